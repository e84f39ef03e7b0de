import './inspector/app';
