/* The languages autocomplete knows: keywords and built-ins as each
 * language's reference lists them, and the snippets people type most. */
#include "rooms/ac_words.h"

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

/* ------------------------------------------------------------------ Python */

static const char *const python_keywords[] = {
    "False",   "None",     "True",     "and",    "as",   "assert", "async",  "await",
    "break",   "class",    "continue", "def",    "del",  "elif",   "else",   "except",
    "finally", "for",      "from",     "global", "if",   "import", "in",     "is",
    "lambda",  "nonlocal", "not",      "or",     "pass", "raise",  "return", "try",
    "while",   "with",     "yield",    "match",  "case",
};

static const char *const python_builtins[] = {
    "abs",
    "aiter",
    "all",
    "anext",
    "any",
    "ascii",
    "bin",
    "bool",
    "breakpoint",
    "bytearray",
    "bytes",
    "callable",
    "chr",
    "classmethod",
    "compile",
    "complex",
    "delattr",
    "dict",
    "dir",
    "divmod",
    "enumerate",
    "eval",
    "exec",
    "filter",
    "float",
    "format",
    "frozenset",
    "getattr",
    "globals",
    "hasattr",
    "hash",
    "help",
    "hex",
    "id",
    "input",
    "int",
    "isinstance",
    "issubclass",
    "iter",
    "len",
    "list",
    "locals",
    "map",
    "max",
    "memoryview",
    "min",
    "next",
    "object",
    "oct",
    "open",
    "ord",
    "pow",
    "print",
    "property",
    "range",
    "repr",
    "reversed",
    "round",
    "set",
    "setattr",
    "slice",
    "sorted",
    "staticmethod",
    "str",
    "sum",
    "super",
    "tuple",
    "type",
    "vars",
    "zip",
    "__import__",
    "__name__",
    "__file__",
    "self",
    "NotImplemented",
    "Ellipsis",
    "BaseException",
    "Exception",
    "ArithmeticError",
    "AssertionError",
    "AttributeError",
    "EOFError",
    "FileExistsError",
    "FileNotFoundError",
    "ImportError",
    "IndexError",
    "KeyError",
    "KeyboardInterrupt",
    "LookupError",
    "MemoryError",
    "ModuleNotFoundError",
    "NameError",
    "NotImplementedError",
    "OSError",
    "OverflowError",
    "PermissionError",
    "RecursionError",
    "RuntimeError",
    "StopIteration",
    "StopAsyncIteration",
    "SyntaxError",
    "SystemExit",
    "TimeoutError",
    "TypeError",
    "UnicodeDecodeError",
    "UnicodeEncodeError",
    "ValueError",
    "ZeroDivisionError",
    "DeprecationWarning",
    "UserWarning",
    "Warning",
};

static const struct ac_snippet python_snippets[] = {
    {"def", "def", "function definition", "def name():\n\tpass"},
    {"class", "class", "class definition", "class Name:\n\tdef __init__(self):\n\t\tpass"},
    {"if", "if", "if block", "if condition:\n\tpass"},
    {"elif", "elif", "elif block", "elif condition:\n\tpass"},
    {"for", "for", "for loop", "for item in items:\n\tpass"},
    {"while", "while", "while loop", "while condition:\n\tpass"},
    {"try", "try", "try/except", "try:\n\tpass\nexcept Exception as error:\n\traise"},
    {"with", "with", "with block", "with open(path) as file:\n\tpass"},
    {"main", "if __name__", "main guard", "if __name__ == \"__main__\":\n\tmain()"},
};

static const struct ac_line_snippet python_line_snippets[] = {
    {"def", "(…):", "define the function", "():\n\tpass"},
    {"class", ":", "define the class", ":\n\tpass"},
};

/* -------------------------------------------------------------- JavaScript */

#define JS_KEYWORDS                                                                                \
  "async", "await", "break", "case", "catch", "class", "const", "continue", "debugger", "default", \
      "delete", "do", "else", "export", "extends", "false", "finally", "for", "function", "if",    \
      "import", "in", "instanceof", "let", "new", "null", "of", "return", "static", "super",       \
      "switch", "this", "throw", "true", "try", "typeof", "var", "void", "while", "with", "yield"

#define JS_GLOBALS                                                                                 \
  "AbortController", "AggregateError", "Array", "ArrayBuffer", "BigInt", "Blob", "Boolean",        \
      "DataView", "Date", "Error", "EvalError", "Float32Array", "Float64Array", "Function",        \
      "Infinity", "Int8Array", "Int16Array", "Int32Array", "Intl", "JSON", "Map", "Math", "NaN",   \
      "Number", "Object", "Promise", "Proxy", "RangeError", "ReferenceError", "Reflect", "RegExp", \
      "Set", "String", "Symbol", "SyntaxError", "TextDecoder", "TextEncoder", "TypeError",         \
      "URIError", "URL", "URLSearchParams", "Uint8Array", "Uint8ClampedArray", "Uint16Array",      \
      "Uint32Array", "WeakMap", "WeakRef", "WeakSet", "clearInterval", "clearTimeout", "console",  \
      "crypto", "decodeURI", "decodeURIComponent", "document", "encodeURI", "encodeURIComponent",  \
      "fetch", "globalThis", "isFinite", "isNaN", "parseFloat", "parseInt", "queueMicrotask",      \
      "setInterval", "setTimeout", "structuredClone", "undefined", "window"

static const char *const js_keywords[] = {JS_KEYWORDS};
static const char *const js_builtins[] = {JS_GLOBALS};

#define JS_SNIPPETS                                                                                \
  {"for", "for", "for loop", "for (let i = 0; i < n; i++) {\n\t\n}"},                              \
      {"for", "for…of", "for…of loop", "for (const item of items) {\n\t\n}"},                      \
      {"if", "if", "if block", "if (condition) {\n\t\n}"},                                         \
      {"while", "while", "while loop", "while (condition) {\n\t\n}"},                              \
      {"function", "function", "function definition", "function name() {\n\t\n}"},                 \
      {"class", "class", "class definition", "class Name {\n\tconstructor() {\n\t\t\n\t}\n}"},     \
      {"try", "try", "try/catch", "try {\n\t\n} catch (error) {\n\t\n}"}, {                        \
    "switch", "switch", "switch", "switch (value) {\n\tcase 0:\n\t\tbreak;\n\tdefault:\n}"         \
  }

static const struct ac_snippet js_snippets[] = {JS_SNIPPETS};

static const struct ac_line_snippet js_line_snippets[] = {
    {"function", "() {…}", "define the function", "() {\n\t\n}"},
    {"class", " {…}", "define the class", " {\n\t\n}"},
};

/* -------------------------------------------------------------- TypeScript */

static const char *const ts_keywords[] = {
    JS_KEYWORDS, "abstract", "any",     "as",         "asserts", "bigint",
    "boolean",   "declare",  "enum",    "implements", "infer",   "interface",
    "is",        "keyof",    "module",  "namespace",  "never",   "number",
    "object",    "override", "private", "protected",  "public",  "readonly",
    "satisfies", "string",   "symbol",  "type",       "unique",  "unknown",
};

static const char *const ts_builtins[] = {
    JS_GLOBALS, "Awaited",    "Exclude",     "Extract",   "InstanceType", "NonNullable",
    "Omit",     "Parameters", "Partial",     "Pick",      "Readonly",     "Record",
    "Required", "ReturnType", "PromiseLike", "ArrayLike", "Iterable",     "ReadonlyArray",
};

static const struct ac_snippet ts_snippets[] = {
    JS_SNIPPETS,
    {"interface", "interface", "interface declaration", "interface Name {\n\t\n}"},
};

/* ----------------------------------------------------------------------- C */

static const char *const c_keywords[] = {
    "auto",       "break",     "case",           "char",
    "const",      "continue",  "default",        "do",
    "double",     "else",      "enum",           "extern",
    "float",      "for",       "goto",           "if",
    "inline",     "int",       "long",           "register",
    "restrict",   "return",    "short",          "signed",
    "sizeof",     "static",    "struct",         "switch",
    "typedef",    "union",     "unsigned",       "void",
    "volatile",   "while",     "_Alignas",       "_Alignof",
    "_Atomic",    "_Bool",     "_Complex",       "_Generic",
    "_Imaginary", "_Noreturn", "_Static_assert", "_Thread_local",
    "alignas",    "alignof",   "bool",           "constexpr",
    "false",      "nullptr",   "static_assert",  "thread_local",
    "true",       "typeof",
};

static const char *const c_builtins[] = {
    "printf",       "fprintf",   "sprintf",   "snprintf", "vprintf",   "vfprintf", "vsnprintf",
    "scanf",        "sscanf",    "fscanf",    "puts",     "fputs",     "fgets",    "fputc",
    "fgetc",        "getchar",   "putchar",   "fopen",    "fclose",    "fread",    "fwrite",
    "fflush",       "fseek",     "ftell",     "rewind",   "feof",      "ferror",   "perror",
    "remove",       "rename",    "malloc",    "calloc",   "realloc",   "free",     "abort",
    "exit",         "atexit",    "atoi",      "atol",     "strtol",    "strtoul",  "strtoll",
    "strtoull",     "strtod",    "qsort",     "bsearch",  "abs",       "labs",     "rand",
    "srand",        "getenv",    "system",    "memcpy",   "memmove",   "memset",   "memcmp",
    "memchr",       "strlen",    "strnlen",   "strcpy",   "strncpy",   "strcat",   "strncat",
    "strcmp",       "strncmp",   "strchr",    "strrchr",  "strstr",    "strtok",   "strdup",
    "strndup",      "strerror",  "isalpha",   "isdigit",  "isalnum",   "isspace",  "isupper",
    "islower",      "isxdigit",  "isprint",   "toupper",  "tolower",   "time",     "clock",
    "difftime",     "mktime",    "localtime", "gmtime",   "strftime",  "sqrt",     "pow",
    "sin",          "cos",       "tan",       "atan2",    "exp",       "log",      "log10",
    "floor",        "ceil",      "fabs",      "fmod",     "round",     "assert",   "errno",
    "NULL",         "EOF",       "FILE",      "stdin",    "stdout",    "stderr",   "size_t",
    "ssize_t",      "ptrdiff_t", "int8_t",    "int16_t",  "int32_t",   "int64_t",  "uint8_t",
    "uint16_t",     "uint32_t",  "uint64_t",  "intptr_t", "uintptr_t", "va_list",  "va_start",
    "va_arg",       "va_end",    "offsetof",  "SIZE_MAX", "INT_MAX",   "INT_MIN",  "EXIT_SUCCESS",
    "EXIT_FAILURE",
};

static const struct ac_snippet c_snippets[] = {
    {"for", "for", "for loop", "for (int i = 0; i < n; i++) {\n\t\n}"},
    {"if", "if", "if block", "if (condition) {\n\t\n}"},
    {"while", "while", "while loop", "while (condition) {\n\t\n}"},
    {"do", "do", "do/while loop", "do {\n\t\n} while (condition);"},
    {"switch", "switch", "switch", "switch (value) {\ncase 0:\n\tbreak;\ndefault:\n\tbreak;\n}"},
    {"struct", "struct", "struct definition", "struct name {\n\t\n};"},
    {"main", "main", "main function", "int main(int argc, char **argv) {\n\t\n\treturn 0;\n}"},
};

static const struct ac_line_snippet c_line_snippets[] = {
    {"void", "(void) {…}", "define the function", "(void) {\n\t\n}"},
};

/* ---------------------------------------------------------------------- Go */

static const char *const go_keywords[] = {
    "break",  "case",        "chan", "const",   "continue", "default", "defer",
    "else",   "fallthrough", "for",  "func",    "go",       "goto",    "if",
    "import", "interface",   "map",  "package", "range",    "return",  "select",
    "struct", "switch",      "type", "var",
};

static const char *const go_builtins[] = {
    "any",     "bool",    "byte",   "comparable", "complex64", "complex128", "error",   "float32",
    "float64", "int",     "int8",   "int16",      "int32",     "int64",      "rune",    "string",
    "uint",    "uint8",   "uint16", "uint32",     "uint64",    "uintptr",    "true",    "false",
    "iota",    "nil",     "append", "cap",        "clear",     "close",      "complex", "copy",
    "delete",  "imag",    "len",    "make",       "max",       "min",        "new",     "panic",
    "print",   "println", "real",   "recover",
};

static const struct ac_snippet go_snippets[] = {
    {"for", "for", "for loop", "for i := 0; i < n; i++ {\n\t\n}"},
    {"for", "for range", "for range loop", "for _, item := range items {\n\t\n}"},
    {"if", "if", "if block", "if condition {\n\t\n}"},
    {"if", "if err", "error check", "if err != nil {\n\treturn err\n}"},
    {"func", "func", "function definition", "func name() {\n\t\n}"},
    {"switch", "switch", "switch", "switch value {\ncase 0:\ndefault:\n}"},
    {"select", "select", "select", "select {\ncase v := <-ch:\n\t_ = v\n}"},
};

static const struct ac_line_snippet go_line_snippets[] = {
    {"func", "() {…}", "define the function", "() {\n\t\n}"},
};

/* -------------------------------------------------------------------- Rust */

static const char *const rust_keywords[] = {
    "as",     "async", "await", "break", "const",  "continue", "crate", "dyn",   "else",   "enum",
    "extern", "false", "fn",    "for",   "if",     "impl",     "in",    "let",   "loop",   "match",
    "mod",    "move",  "mut",   "pub",   "ref",    "return",   "self",  "Self",  "static", "struct",
    "super",  "trait", "true",  "type",  "unsafe", "use",      "where", "while",
};

static const char *const rust_builtins[] = {
    "Copy",
    "Clone",
    "Send",
    "Sync",
    "Sized",
    "Unpin",
    "Drop",
    "Fn",
    "FnMut",
    "FnOnce",
    "drop",
    "Box",
    "ToOwned",
    "ToString",
    "String",
    "Vec",
    "Option",
    "Some",
    "None",
    "Result",
    "Ok",
    "Err",
    "Default",
    "Iterator",
    "IntoIterator",
    "DoubleEndedIterator",
    "ExactSizeIterator",
    "Extend",
    "AsRef",
    "AsMut",
    "Into",
    "From",
    "TryFrom",
    "TryInto",
    "FromIterator",
    "PartialEq",
    "Eq",
    "PartialOrd",
    "Ord",
    "Debug",
    "Hash",
    "i8",
    "i16",
    "i32",
    "i64",
    "i128",
    "isize",
    "u8",
    "u16",
    "u32",
    "u64",
    "u128",
    "usize",
    "f32",
    "f64",
    "bool",
    "char",
    "str",
    "println!",
    "print!",
    "eprintln!",
    "eprint!",
    "format!",
    "vec!",
    "panic!",
    "assert!",
    "assert_eq!",
    "assert_ne!",
    "debug_assert!",
    "write!",
    "writeln!",
    "todo!",
    "unimplemented!",
    "unreachable!",
    "matches!",
    "dbg!",
};

static const struct ac_snippet rust_snippets[] = {
    {"for", "for", "for loop", "for item in items {\n\t\n}"},
    {"if", "if", "if block", "if condition {\n\t\n}"},
    {"if", "if let", "if let", "if let Some(value) = option {\n\t\n}"},
    {"while", "while", "while loop", "while condition {\n\t\n}"},
    {"loop", "loop", "loop", "loop {\n\t\n}"},
    {"fn", "fn", "function definition", "fn name() {\n\t\n}"},
    {"match", "match", "match", "match value {\n\t_ => {}\n}"},
    {"impl", "impl", "impl block", "impl Name {\n\t\n}"},
    {"struct", "struct", "struct definition", "struct Name {\n\t\n}"},
};

static const struct ac_line_snippet rust_line_snippets[] = {
    {"fn", "() {…}", "define the function", "() {\n\t\n}"},
};

/* -------------------------------------------------------------------- Java */

static const char *const java_keywords[] = {
    "abstract", "assert", "boolean",    "break",     "byte",       "case",      "catch",
    "char",     "class",  "const",      "continue",  "default",    "do",        "double",
    "else",     "enum",   "extends",    "final",     "finally",    "float",     "for",
    "goto",     "if",     "implements", "import",    "instanceof", "int",       "interface",
    "long",     "native", "new",        "package",   "private",    "protected", "public",
    "return",   "short",  "static",     "strictfp",  "super",      "switch",    "synchronized",
    "this",     "throw",  "throws",     "transient", "try",        "void",      "volatile",
    "while",    "var",    "record",     "yield",     "sealed",     "permits",   "true",
    "false",    "null",
};

static const char *const java_builtins[] = {
    "Object",
    "String",
    "StringBuilder",
    "StringBuffer",
    "Math",
    "System",
    "Integer",
    "Long",
    "Short",
    "Byte",
    "Double",
    "Float",
    "Boolean",
    "Character",
    "Number",
    "Void",
    "Thread",
    "Runnable",
    "Exception",
    "RuntimeException",
    "Error",
    "Throwable",
    "IllegalArgumentException",
    "IllegalStateException",
    "NullPointerException",
    "IndexOutOfBoundsException",
    "ArrayIndexOutOfBoundsException",
    "ClassCastException",
    "ArithmeticException",
    "UnsupportedOperationException",
    "NumberFormatException",
    "InterruptedException",
    "CloneNotSupportedException",
    "Iterable",
    "Comparable",
    "CharSequence",
    "AutoCloseable",
    "Class",
    "ClassLoader",
    "Enum",
    "Record",
    "Override",
    "Deprecated",
    "SuppressWarnings",
    "FunctionalInterface",
    "SafeVarargs",
    "Process",
    "ProcessBuilder",
    "Runtime",
    "StackOverflowError",
    "OutOfMemoryError",
    "AssertionError",
    "ThreadLocal",
};

static const struct ac_snippet java_snippets[] = {
    {"for", "for", "for loop", "for (int i = 0; i < n; i++) {\n\t\n}"},
    {"for", "for each", "for-each loop", "for (var item : items) {\n\t\n}"},
    {"if", "if", "if block", "if (condition) {\n\t\n}"},
    {"while", "while", "while loop", "while (condition) {\n\t\n}"},
    {"try", "try", "try/catch", "try {\n\t\n} catch (Exception e) {\n\t\n}"},
    {"class", "class", "class definition", "public class Name {\n\t\n}"},
    {"main", "main", "main method", "public static void main(String[] args) {\n\t\n}"},
};

static const struct ac_line_snippet java_line_snippets[] = {
    {"void", "() {…}", "define the method", "() {\n\t\n}"},
    {"class", " {…}", "define the class", " {\n\t\n}"},
};

/* --------------------------------------------------------------- the table */

#define WORDS(kw, bi, sn, ls)                                                                      \
  .keywords = kw, .keyword_count = COUNT(kw), .builtins = bi, .builtin_count = COUNT(bi),          \
  .snippets = sn, .snippet_count = COUNT(sn), .line_snippets = ls, .line_snippet_count = COUNT(ls)

const struct ac_words ac_languages[AC_LANG_COUNT] = {
    [AC_LANG_PYTHON] = {.name = "python",
                        .family = AC_FAMILY_PYTHON,
                        .indent = "    ",
                        WORDS(python_keywords, python_builtins, python_snippets,
                              python_line_snippets)},
    [AC_LANG_JAVASCRIPT] = {.name = "javascript",
                            .family = AC_FAMILY_C,
                            .dollar_in_words = true,
                            .backtick_strings = true,
                            .indent = "  ",
                            WORDS(js_keywords, js_builtins, js_snippets, js_line_snippets)},
    [AC_LANG_TYPESCRIPT] = {.name = "typescript",
                            .family = AC_FAMILY_C,
                            .dollar_in_words = true,
                            .backtick_strings = true,
                            .indent = "  ",
                            WORDS(ts_keywords, ts_builtins, ts_snippets, js_line_snippets)},
    [AC_LANG_C] = {.name = "c",
                   .family = AC_FAMILY_C,
                   .indent = "    ",
                   WORDS(c_keywords, c_builtins, c_snippets, c_line_snippets)},
    [AC_LANG_GO] = {.name = "go",
                    .family = AC_FAMILY_C,
                    .backtick_strings = true,
                    .indent = "\t",
                    WORDS(go_keywords, go_builtins, go_snippets, go_line_snippets)},
    [AC_LANG_RUST] = {.name = "rust",
                      .family = AC_FAMILY_C,
                      .nested_comments = true,
                      .rust_literals = true,
                      .indent = "    ",
                      WORDS(rust_keywords, rust_builtins, rust_snippets, rust_line_snippets)},
    [AC_LANG_JAVA] = {.name = "java",
                      .family = AC_FAMILY_C,
                      .indent = "    ",
                      WORDS(java_keywords, java_builtins, java_snippets, java_line_snippets)},
};
