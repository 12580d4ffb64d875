package sluice.node;

/** Writes a Java string as a JSON string literal (for the admin API's answers and the access log's JSON lines). */
public final class JsonText {

  private JsonText() {}

  /** Appends {@code s} quoted and escaped to {@code out}, or {@code null} for a null string; returns {@code out}. */
  public static StringBuilder quoted(String s, StringBuilder out) {
    if (s == null) {
      return out.append("null");
    }
    out.append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> out.append("\\\"");
        case '\\' -> out.append("\\\\");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        default -> {
          if (c < 0x20) {
            out.append(String.format("\\u%04x", (int) c));
          } else {
            out.append(c);
          }
        }
      }
    }
    return out.append('"');
  }
}
