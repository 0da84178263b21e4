/** The API thread's read connection to the evaluation reports. */
export const EVALUATION_STORE = Symbol('EVALUATION_STORE');
/** The running build's version, recorded in every report. */
export const KEEL_VERSION = Symbol('KEEL_VERSION');
