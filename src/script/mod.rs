//! The `.script` language: its syntax tree, parser and printer.
//!
//! - [`parser`]: the XML envelope, and the entry point [`parse`].
//! - [`expr_parser`]: the expression language inside `<e>` rules.
//! - [`tag_forms`]: how tags and element references are written.
//! - [`xml_text`]: character references and escaping.
//! - [`printer`]: the AST back to text.

pub mod ast;
pub mod expr_parser;
pub mod parser;
pub mod printer;
pub mod span;
pub mod tag_forms;
pub mod xml_text;

pub use parser::{Parsed, parse};
pub use printer::print_script;
