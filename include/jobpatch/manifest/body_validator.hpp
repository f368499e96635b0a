#pragma once
// Schema checks of a PATCH body, per endpoint. Shared by the manifest validator (before
// anything is sent) and by jobpatch-mock (on what it receives), so both agree exactly.

#include <jobpatch/manifest/operation.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace jobpatch {

// Validates request bodies against the endpoint schemas of the Customer API:
//   configs    {"taskTimeout"?: int64, "jobTimeout"?: int64, "isTestJob"?: bool}
//              (int64 as a JSON number or a decimal string, as proto3 JSON allows)
//   jobname    a JSON string
//   params     {"preset"?: string, "partitioner"?: object, "assembler"?: object, "app"?: object}
//   datasource {"dataSource"?: source, "dataDestination"?: source} where
//              source = {"dataSourceDescriptor": string, "params"?: object}
// Unknown keys, duplicate keys, wrong types, invalid UTF-8, nesting beyond
// max_nesting_depth and empty objects that set nothing are errors. Opaque objects
// (params.app, dataSource.params, ...) are checked for well-formed JSON only.
// Not thread-safe: use one instance per thread; it reuses its parser between calls.
class body_validator {
public:
  static constexpr std::size_t max_nesting_depth = 64;

  body_validator();
  ~body_validator();
  body_validator(body_validator&&) noexcept;
  body_validator& operator=(body_validator&&) noexcept;

  // Returns true when `body` is valid for `op`. Otherwise error() tells why, phrased
  // with the field path, e.g. `configs.taskTimeout must be an integer, got string "abc"`.
  // `readable` is how many bytes from body.data() may be read (simdjson reads up to 64
  // bytes past the end); when it is short of body.size() + 64 the body is copied first.
  bool validate(op_kind op, std::string_view body, std::size_t readable = 0);

  const std::string& error() const noexcept { return error_; }

private:
  struct impl;
  std::unique_ptr<impl> impl_;
  std::string error_;
};

} // namespace jobpatch
