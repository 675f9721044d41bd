#include "lib/base/report_errors.h"

#include <c10/util/Exception.h>

#include <cstdio>
#include <exception>
#include <new>
#include <nlohmann/json.hpp>
#include <string>

#include "lib/base/error.h"
#include "lib/base/terminal_text.h"

namespace mp {

namespace {
void report(const std::string& message) {
  std::fprintf(stderr, "modelpress: error: %s\n", terminal_safe(message.substr(0, message.find('\n'))).c_str());
}
}  // namespace

int run_reporting_errors(const std::function<int()>& command) {
  try {
    return command();
  } catch (const Error& e) {
    report(e.what());
    return static_cast<int>(e.code());
  } catch (const c10::Error& e) {
    report(std::string("internal check failed: ") + e.what_without_backtrace());
  } catch (const std::bad_alloc&) {
    report("out of memory");
  } catch (const nlohmann::json::exception& e) {
    report(std::string("unexpected JSON content: ") + e.what());
  } catch (const std::exception& e) {
    report(e.what());
  } catch (...) {
    // Not a std::exception: nothing to say about it, but the process still ends in one line.
    report("unexpected failure (an exception of unknown type)");
  }
  return static_cast<int>(ExitCode::runtime_failure);
}

}  // namespace mp
