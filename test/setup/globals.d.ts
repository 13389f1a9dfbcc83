/** Handles the Jest global setup keeps for its teardown (same process, so a global works). */
// eslint-disable-next-line no-var -- a global declaration must be a var
declare var __TEST_SERVICES__: { stop(): Promise<void> } | undefined;
