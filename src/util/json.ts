/** `value[key]` when `value` is a plain JSON object, else undefined: reading untrusted API answers. */
export function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>)[key] : undefined;
}
