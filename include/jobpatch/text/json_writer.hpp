#pragma once
// One JSON writer for the summaries (apply's and bench's --summary-json): objects, keys
// and commas are its business, so no summary carries comma logic of its own. Numbers are
// written as the summaries always showed them (integers, or fixed decimals: "12.345"),
// which a general JSON library would turn into "1.2345E1".

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace jobpatch {

class json_writer {
public:
  // Appends to `out`, which must outlive the writer.
  explicit json_writer(std::string& out) : out_(out) {}

  // An object: the document itself (no key), or a member named `key`.
  json_writer& begin_object();
  json_writer& begin_object(std::string_view key);
  json_writer& end_object();

  // An array member named `key`; its elements are objects (begin_object() without a key)
  // or numbers (element()).
  json_writer& begin_array(std::string_view key);
  // An array element that is itself an array (for [[index,count],...]).
  json_writer& begin_array();
  json_writer& end_array();
  // An array element: an unsigned integer.
  json_writer& element(std::uint64_t v);
  // An array element: `v` with up to `decimals` digits after the point.
  json_writer& element(double v, int decimals);

  json_writer& null(std::string_view key);
  json_writer& number(std::string_view key, std::uint64_t v);
  json_writer& integer(std::string_view key, std::int64_t v);
  // `v` with up to `decimals` digits after the point (finite; non-finite becomes 0).
  json_writer& fixed(std::string_view key, double v, int decimals);
  json_writer& string(std::string_view key, std::string_view v);
  json_writer& boolean(std::string_view key, bool v);

private:
  void member(std::string_view key); // the comma, the key and its colon
  std::string& out_;
  void separator();                // the comma before an element of the innermost object or array
  json_writer& open(char bracket); // '{' or '[' after its comma or key
  std::vector<bool> has_members_;  // one per open object or array
};

} // namespace jobpatch
