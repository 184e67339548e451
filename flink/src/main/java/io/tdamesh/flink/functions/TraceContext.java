package io.tdamesh.flink.functions;

import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/** W3C trace context: a child of the incoming traceparent (same trace, new span id). */
public final class TraceContext {
  private static final Pattern VALID = Pattern.compile("^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$");

  private TraceContext() {}

  public static boolean valid(String tp) {
    return tp != null && VALID.matcher(tp).matches() && !tp.startsWith("00-00000000000000000000000000000000");
  }

  /** A traceparent for a record produced on behalf of `parent` (a new trace when it is invalid). */
  public static String child(String parent) {
    String trace = valid(parent) ? parent.substring(3, 35) : hex(16);
    String flags = valid(parent) ? parent.substring(53, 55) : "01";
    return "00-" + trace + "-" + hex(8) + "-" + flags;
  }

  private static String hex(int bytes) {
    StringBuilder sb = new StringBuilder(bytes * 2);
    ThreadLocalRandom r = ThreadLocalRandom.current();
    for (int i = 0; i < bytes; i++) sb.append(String.format("%02x", r.nextInt(256)));
    if (sb.chars().allMatch(c -> c == '0')) sb.setCharAt(0, '1');
    return sb.toString();
  }
}
