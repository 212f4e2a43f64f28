//! CTP's `FnCall`: how the text after an `@` is split into a function
//! name, its arguments and the `{…}` clauses of `@if`, `@select` and
//! `@append` (johnperry/CTP, `FnCall.java`).

use super::java_trim;

/// One call, split as CTP's `FnCall` splits it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct FnCall {
    pub(super) name: String,
    /// The arguments, trimmed, escapes removed, quotes kept.
    pub(super) args: Vec<String>,
    pub(super) true_code: String,
    pub(super) false_code: String,
    /// Characters consumed after the `@`.
    pub(super) length: usize,
}

impl FnCall {
    /// Parse a call from the text after its `@`; `None` when CTP would stop
    /// reading the expression (no `(`, or no closing `)`).
    pub(super) fn parse(call: &[char]) -> Option<FnCall> {
        let open = call.iter().position(|&c| c == '(')?;
        let name: String = call[..open].iter().filter(|c| !c.is_whitespace()).collect();
        let mut i = open + 1;
        let mut args = Vec::new();
        while let Some(arg) = Self::next_arg(call, &mut i) {
            args.push(arg);
        }
        if i >= call.len() {
            return None;
        }
        i += 1;
        let mut f = FnCall {
            name,
            args,
            true_code: String::new(),
            false_code: String::new(),
            length: i,
        };
        let clauses = match f.name.as_str() {
            "if" | "select" => 2,
            "append" => 1,
            _ => 0,
        };
        for k in 0..clauses {
            match Self::clause(call, &mut i) {
                Some(code) => {
                    if k == 0 {
                        f.true_code = code;
                    } else {
                        f.false_code = code;
                    }
                    i += 1;
                    f.length = i;
                }
                None => {
                    f.length = call.len();
                    return Some(f);
                }
            }
        }
        Some(f)
    }

    /// `FnCall.getArg(String)`.
    fn next_arg(call: &[char], i: &mut usize) -> Option<String> {
        while *i < call.len() && call[*i].is_whitespace() {
            *i += 1;
        }
        if *i >= call.len() || call[*i] == ')' {
            return None;
        }
        let (mut in_escape, mut in_quote, mut in_bracket, mut in_paren) =
            (false, false, false, false);
        let (mut brackets, mut parens) = (0, 0);
        let mut arg = String::new();
        let mut c = ' ';
        while *i < call.len() {
            c = call[*i];
            if !in_escape && !in_quote && !in_bracket && !in_paren && (c == ',' || c == ')') {
                break;
            }
            if !in_escape && c == '\\' {
                in_escape = true;
            } else {
                arg.push(c);
                if c == '"' {
                    in_quote = !in_quote;
                }
                if !in_quote {
                    if c == '[' {
                        in_bracket = true;
                        brackets += 1;
                    } else if in_bracket && c == ']' {
                        brackets -= 1;
                        if brackets == 0 {
                            in_bracket = false;
                        }
                    } else if c == '(' {
                        in_paren = true;
                        parens += 1;
                    } else if in_paren && c == ')' {
                        parens -= 1;
                        if parens == 0 {
                            in_paren = false;
                        }
                    }
                }
                in_escape = false;
            }
            *i += 1;
        }
        if *i >= call.len() {
            return None;
        }
        if c == ',' {
            *i += 1;
        }
        Some(java_trim(&arg).to_string())
    }

    /// `FnCall.getClause`: a `{…}` block, braces balanced.
    fn clause(call: &[char], i: &mut usize) -> Option<String> {
        while *i < call.len() && call[*i].is_whitespace() {
            *i += 1;
        }
        if *i >= call.len() || call[*i] != '{' {
            return None;
        }
        *i += 1;
        let mut depth = 1;
        let mut clause = String::new();
        while *i < call.len() {
            let c = call[*i];
            if c == '{' {
                depth += 1;
            }
            if c == '}' {
                depth -= 1;
            }
            if depth == 0 {
                break;
            }
            clause.push(c);
            *i += 1;
        }
        if *i >= call.len() {
            return None;
        }
        Some(java_trim(&clause).to_string())
    }

    /// `args[k]`, or empty.
    pub(super) fn raw(&self, k: usize) -> &str {
        self.args.get(k).map(String::as_str).unwrap_or("")
    }

    /// `getArg(k)`: trimmed, surrounding quotes removed.
    pub(super) fn arg(&self, k: usize) -> String {
        let a = java_trim(self.raw(k));
        match a.strip_prefix('"').and_then(|s| s.strip_suffix('"')) {
            Some(inner) if a.len() >= 2 => inner.to_string(),
            _ => a.to_string(),
        }
    }

    /// `getArgs()`: `(a,b,…)`.
    pub(super) fn args_text(&self) -> String {
        format!("({})", self.args.join(","))
    }

    pub(super) fn call_text(&self) -> String {
        format!("{}{}", self.name, self.args_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chars(s: &str) -> Vec<char> {
        s.chars().collect()
    }

    #[test]
    fn calls_split_as_ctp_splits_them() {
        let f = FnCall::parse(&chars("hash(this, 10)rest")).unwrap();
        assert_eq!(f.name, "hash");
        assert_eq!(f.args, ["this", "10"]);
        assert_eq!(f.length, "hash(this, 10)".len());
        let f = FnCall::parse(&chars(r#"contents(PatientName,"[,^]","_")"#)).unwrap();
        assert_eq!(f.args, ["PatientName", r#""[,^]""#, r#""_""#]);
        assert_eq!(f.arg(1), "[,^]");
        let f = FnCall::parse(&chars("if(this,isblank){@remove()}{@hash(this)} tail")).unwrap();
        assert_eq!(f.true_code, "@remove()");
        assert_eq!(f.false_code, "@hash(this)");
        assert_eq!(f.length, "if(this,isblank){@remove()}{@hash(this)}".len());
        assert!(FnCall::parse(&chars("uid")).is_none());
        assert!(FnCall::parse(&chars("hash(this")).is_none());
    }
}
