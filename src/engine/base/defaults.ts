/** The paper's prompt: what a run without input uses. */
export const DEFAULT_PROMPT = 'Summer is warm. Winter is cold.';
