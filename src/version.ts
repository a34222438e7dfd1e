/** The collector's version, sent in the User-Agent and in `metadata.json`. */
export const VERSION = "0.1.0";
