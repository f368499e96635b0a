#pragma once
// Test support: a small HTML well-formedness check, shared by the report's unit test and
// the bench integration test (no HTML parser is available offline).

#include <cctype>
#include <set>
#include <string>
#include <vector>

namespace jobpatch::test {

// A small well-formedness checker: tokenizes tags, checks that attribute quotes are
// balanced, that every non-void element is closed in order, and that no raw '<' or '>'
// appears in text. Returns "" when fine, else what is wrong.
inline std::string check_well_formed(const std::string& html) {
  static const std::set<std::string> void_elements = {"area",   "base",  "br",    "col",  "embed",
                                                      "hr",     "img",   "input", "link", "meta",
                                                      "source", "track", "wbr"};
  std::vector<std::string> open;
  std::size_t i = 0;
  bool in_style = false;
  while (i < html.size()) {
    if (html[i] != '<') {
      if (html[i] == '>' && !in_style) return "stray '>' at " + std::to_string(i);
      ++i;
      continue;
    }
    if (html.compare(i, 9, "<!DOCTYPE") == 0) {
      i = html.find('>', i) + 1;
      continue;
    }
    // Find the end of the tag, skipping '>' inside quoted attribute values.
    std::size_t j = i + 1;
    char quote = 0;
    for (; j < html.size(); ++j) {
      char c = html[j];
      if (quote) {
        if (c == quote)
          quote = 0;
        else if (c == '<')
          return "'<' inside an attribute at " + std::to_string(j);
      } else if (c == '"' || c == '\'') {
        quote = c;
      } else if (c == '>') {
        break;
      } else if (c == '<') {
        return "'<' inside a tag at " + std::to_string(j);
      }
    }
    if (j >= html.size()) return "unterminated tag or unbalanced quote at " + std::to_string(i);
    std::string tag = html.substr(i + 1, j - i - 1);
    i = j + 1;
    bool closing = !tag.empty() && tag[0] == '/';
    bool self_closing = !tag.empty() && tag.back() == '/';
    std::size_t start = closing ? 1 : 0;
    std::size_t end = start;
    while (end < tag.size() &&
           (std::isalnum(static_cast<unsigned char>(tag[end])) || tag[end] == '-'))
      ++end;
    std::string name = tag.substr(start, end - start);
    if (name.empty()) return "empty tag name: <" + tag + ">";
    for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (closing) {
      if (open.empty() || open.back() != name)
        return "</" + name + "> closes " + (open.empty() ? "nothing" : "<" + open.back() + ">");
      open.pop_back();
      if (name == "style") in_style = false;
    } else if (!self_closing && !void_elements.count(name)) {
      open.push_back(name);
      if (name == "style") in_style = true;
    }
  }
  if (!open.empty()) return "<" + open.back() + "> never closed";
  return "";
}

// How many times `what` occurs in `s` (overlapping ones too).
inline std::size_t occurrences(const std::string& s, const std::string& what) {
  std::size_t n = 0;
  for (auto p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

} // namespace jobpatch::test
