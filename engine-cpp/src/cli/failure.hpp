// How the Rips and the Alpha command line end on an exception (call inside a `catch (...)`):
// the message on standard error, the usage text after a usage mistake, exit code 2.
#pragma once

#include <cstdio>
#include <exception>
#include <new>

#include "common/flags.hpp"
#include "tda/core/types.hpp"

namespace tda::cli {

inline int report_failure(const char* usage) {
  try {
    throw;
  } catch (const flags::UsageError& e) {
    std::fprintf(stderr, "tda-engine: %s\n\n%s", e.what(), usage);
  } catch (const core::InvalidInput& e) {
    std::fprintf(stderr, "tda-engine: invalid input: %s\n", e.what());
  } catch (const std::bad_alloc&) {
    std::fprintf(stderr, "tda-engine: out of memory\n");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "tda-engine: %s\n", e.what());
  }
  return 2;
}

}  // namespace tda::cli
