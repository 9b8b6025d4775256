/** A size as people read it in a followup or a message: "12 MB", "340 KB". */
export function humanBytes(bytes: number): string {
  return bytes >= 1024 * 1024 ? `${Math.round(bytes / (1024 * 1024))} MB` : `${Math.round(bytes / 1024)} KB`;
}
