/** A configuration file's size, checked before it is parsed (a bridge's 10,000 bindings take well under 2 MiB). */
export const MAX_CONFIG_FILE_BYTES = 4 * 1024 * 1024;
