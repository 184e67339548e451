// Timestamped log lines on stderr (one write per line, safe across threads).
#pragma once

namespace tda::server {

// printf-style; prints "2026-01-01T12:00:00.123Z <message>\n" to stderr.
void log_line(const char* format, ...) __attribute__((format(printf, 1, 2)));

}  // namespace tda::server
