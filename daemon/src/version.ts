/** The daemon version reported by initialize and `shadowbox status`. */
export const VERSION = '0.1.0';
