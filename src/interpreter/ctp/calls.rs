//! The function calls of an expression (`DICOMAnonymizer.makeReplacement`
//! and the calls it dispatches): each finds its arguments in the data set
//! or the parameters and hands them to its function in
//! [`crate::functions::ctp`]; `@if`, `@select`, `@append`, `@require`,
//! `@skip`, `@quarantine` and `@call` steer the evaluation itself.

use super::*;

impl Engine<'_> {
    pub(super) fn call(&self, f: &FnCall, frame: &Frame, this: Tag) -> Result<Replacement, Stop> {
        let text = |s: String| {
            Ok(Replacement {
                text: s,
                process: false,
            })
        };
        let contents = |i: usize| self.contents(f.raw(i), frame, this).unwrap_or_default();
        let contents_null = |i: usize| self.contents(f.raw(i), frame, this);
        match f.name.as_str() {
            "contents" => {
                let value = contents(0);
                let r = match f.args.len() {
                    1 => Ok(value),
                    2 => regex_fn::replace_all(&value, &f.arg(1), ""),
                    3 => regex_fn::replace_all(&value, &f.arg(1), &f.arg(2)),
                    _ => Ok(String::new()),
                };
                text(r.map_err(Stop::Quarantine)?)
            }
            "value" => {
                let value = contents(0);
                text(if value.is_empty() { f.arg(1) } else { value })
            }
            "truncate" => {
                let value = contents(0);
                text(if f.args.len() == 1 {
                    value
                } else {
                    truncate::truncate(&value, f.raw(1))
                })
            }
            "date" => text(clock::today(&f.arg(0))),
            "time" => text(clock::now(&f.arg(0))),
            "dateinterval" => text(self.date_interval(f, frame, this)?),
            "encrypt" | "decrypt" => {
                if f.args.len() < 2 {
                    return text(f.args_text());
                }
                let value = contents(0);
                let key = self.param(f.raw(1)).unwrap_or_default();
                text(if f.name == "encrypt" {
                    encrypt::encrypt(&value, &key)
                } else {
                    encrypt::decrypt(&value, &key).unwrap_or_else(|| f.args_text())
                })
            }
            "hash" => {
                let Some(value) = contents_null(0) else {
                    return text("@remove()".into());
                };
                let len = if f.args.len() > 1 {
                    // An undefined length parameter fails in CTP, which
                    // then writes the call's arguments.
                    let Some(len) = self.param(f.raw(1)) else {
                        return text(f.args_text());
                    };
                    if len.is_empty() {
                        i64::MAX
                    } else {
                        len.parse().unwrap_or(i64::MAX)
                    }
                } else {
                    i64::MAX
                };
                text(hash::hash(&value, len))
            }
            "hashname" => {
                let value = contents(0);
                let length = self
                    .param(f.raw(1))
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(4);
                let words = if f.args.len() > 2 {
                    self.param(f.raw(2))
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(i64::MAX)
                } else {
                    i64::MAX
                };
                text(hashname::hash_name(&value, length, words))
            }
            "hashptid" => {
                if f.args.len() < 2 {
                    return text(f.args_text());
                }
                let site = self.param(f.raw(0)).unwrap_or_default();
                let ptid = contents_null(1).unwrap_or_else(|| "null".into());
                let maxlen = if f.args.len() >= 3 {
                    self.param(f.raw(2))
                        .and_then(|s| s.parse().ok())
                        .unwrap_or(i64::MAX)
                } else {
                    i64::MAX
                };
                text(hashptid::hash_ptid(&site, &ptid, maxlen))
            }
            "hashuid" => {
                if f.args.len() < 2 {
                    return text(f.args_text());
                }
                let Some(root) = self.param(f.raw(0)) else {
                    return text(f.args_text());
                };
                let Some(mut uid) = contents_null(1) else {
                    return text("@remove()".into());
                };
                if f.args.len() > 2
                    && let Some(tag) = self.element_tag(f.raw(2), frame.ds)
                    && let Some(script) = self.script_for(tag)
                {
                    uid.push_str(&self.make_replacement(script, frame, tag)?.text);
                }
                text(hashuid::hash_uid(&root, &uid))
            }
            "if" => {
                let branch = if self.test_condition(f, frame, this)? {
                    &f.true_code
                } else {
                    &f.false_code
                };
                self.make_replacement(branch, frame, this)
            }
            "select" => {
                let branch = if frame.is_root() {
                    &f.true_code
                } else {
                    &f.false_code
                };
                self.make_replacement(branch, frame, this)
            }
            "append" => {
                let r = self.make_replacement(&f.true_code, frame, this)?;
                let current = frame.ds.get(this).map(element_string);
                let has_values = frame
                    .ds
                    .get(this)
                    .is_some_and(|e| !matches!(e.value(), Value::Primitive(PrimitiveValue::Empty)));
                match current {
                    Some(Some(cur)) if has_values => Ok(Replacement {
                        text: format!("{cur}\\{}", r.text),
                        process: r.process,
                    }),
                    _ => Ok(r),
                }
            }
            "always" => text(String::new()),
            "hashdate" => text(self.hash_date(f, frame, this)),
            "incrementdate" => text(self.increment_date(f, frame, this)),
            "lowercase" => text(contents(0).to_lowercase()),
            "uppercase" => text(contents(0).to_uppercase()),
            "modifydate" => {
                let Some(date) = contents_null(0) else {
                    return text("@remove()".into());
                };
                if date.chars().count() < 8 || f.args.len() < 4 {
                    return text("@empty()".into());
                }
                // An undefined parameter fails in CTP, which then empties.
                let (Some(y), Some(m), Some(d)) = (
                    self.param(f.raw(1)),
                    self.param(f.raw(2)),
                    self.param(f.raw(3)),
                ) else {
                    return text("@empty()".into());
                };
                let (y, m, d) = (
                    modifydate::part(&y),
                    modifydate::part(&m),
                    modifydate::part(&d),
                );
                text(modifydate::modify_dates(&date, y, m, d).unwrap_or_else(|_| "@empty()".into()))
            }
            "initials" => {
                let mut s = initials::initials(&contents(0));
                if f.args.len() > 1 {
                    s = initials::caesar(&s, java_get_int(f.raw(1)));
                }
                text(s)
            }
            "lookup" => text(self.lookup(f, frame, this)?),
            "integer" => {
                let value = contents(0);
                let width = f.raw(2).parse().unwrap_or(0);
                let n = self
                    .tables
                    .integers
                    .integer(f.raw(1), &value)
                    .map_err(|e| Stop::Quarantine(format!("@integer: {e}")))?;
                text(format_integer(n, width))
            }
            "param" => text(self.param(f.raw(0)).unwrap_or_else(|| "null".into())),
            "quarantine" => Err(Stop::Quarantine(format!(
                "@quarantine() in the rule for ({:04X},{:04X})",
                this.group(),
                this.element()
            ))),
            "skip" => Err(Stop::Skip(format!(
                "@skip() in the rule for ({:04X},{:04X})",
                this.group(),
                this.element()
            ))),
            "require" => text(self.require(f, frame, this)),
            "round" => {
                let width = self
                    .param(f.raw(1))
                    .and_then(|s| s.trim().parse::<i64>().ok());
                let age = contents(0);
                text(
                    width
                        .and_then(|w| round::round_age(&age, w))
                        .unwrap_or_else(|| f.args_text()),
                )
            }
            "process" => Ok(Replacement {
                text: "@keep()".into(),
                process: frame
                    .ds
                    .get(this)
                    .is_some_and(|e| matches!(e.value(), Value::Sequence(_))),
            }),
            "call" => Err(Stop::Quarantine(format!(
                "plugin call: no anonymizer extension {:?} (plugins are not supported)",
                f.raw(0)
            ))),
            "pathelement" => text(pathelement::path_element(&contents(0), f.raw(1))),
            _ => text(format!("@{}", f.call_text())),
        }
    }

    /// `testCondition` of `@if`.
    fn test_condition(&self, f: &FnCall, frame: &Frame, this: Tag) -> Result<bool, Stop> {
        if f.args.len() < 2 {
            return Ok(false);
        }
        let name = f.arg(0);
        let tag = if name.trim().is_empty() || name.trim() == "this" {
            Some(this)
        } else {
            self.element_tag(&name, frame.ds)
        };
        let element = self.contents(&name, frame, this);
        let arg2 = || {
            let a = f.arg(2);
            if a.starts_with('@') {
                self.param(&a).unwrap_or(a)
            } else {
                a
            }
        };
        Ok(match f.raw(1) {
            "isblank" => element.is_none_or(|e| java_trim(&e).is_empty()),
            "contains" => element.is_some_and(|e| {
                f.args.len() >= 3 && e.to_lowercase().contains(&arg2().to_lowercase())
            }),
            "equals" => element
                .is_some_and(|e| f.args.len() >= 3 && e.to_lowercase() == arg2().to_lowercase()),
            "matches" => match element {
                Some(e) if f.args.len() >= 3 => {
                    regex_fn::matches(&e, java_trim(&arg2())).map_err(Stop::Quarantine)?
                }
                _ => false,
            },
            "exists" => tag.is_some_and(|t| frame.ds.get(t).is_some()),
            "greaterthan" => match element {
                Some(e) if f.args.len() >= 3 => {
                    let digits =
                        |s: &str| -> String { s.chars().filter(char::is_ascii_digit).collect() };
                    java_get_int(&digits(&e)) > java_get_int(&digits(&arg2()))
                }
                _ => false,
            },
            _ => false,
        })
    }

    fn hash_date(&self, f: &FnCall, frame: &Frame, this: Tag) -> String {
        let Some(date) = self.contents(f.raw(0), frame, this) else {
            return "@remove()".into();
        };
        if date.chars().count() < 8 {
            return "@empty()".into();
        }
        let Some(hashed) = self.contents(f.raw(1), frame, this) else {
            return "@remove()".into();
        };
        incrementdate::increment_dates(&date, hashdate::offset_days(&hashed))
            .unwrap_or_else(|_| "@empty()".into())
    }

    fn increment_date(&self, f: &FnCall, frame: &Frame, this: Tag) -> String {
        let Some(date) = self.contents(f.raw(0), frame, this) else {
            return "@remove()".into();
        };
        if date.chars().count() < 8 {
            return "@empty()".into();
        }
        let increment = match f.args.len() {
            2 => self.param(f.raw(1)),
            3 => {
                let key = self.contents(f.raw(1), frame, this);
                let key_type = self.param(f.raw(2)).unwrap_or_default();
                key.and_then(|k| lookup_fn::lookup(self.tables.lookup, &key_type, &k).ok())
            }
            _ => None,
        };
        increment
            .and_then(|s| s.trim().parse::<i64>().ok())
            .and_then(|days| incrementdate::increment_dates(&date, days).ok())
            .unwrap_or_else(|| "@empty()".into())
    }

    fn date_interval(&self, f: &FnCall, frame: &Frame, this: Tag) -> Result<String, Stop> {
        let fail = || Stop::Quarantine(format!("@dateinterval{} failed", f.args_text()));
        if f.args.len() <= 2 {
            return Err(fail());
        }
        let date = self.contents(f.raw(0), frame, this).unwrap_or_default();
        let key_frame = Frame::root(frame.enclosing());
        let key = self
            .contents(f.raw(2), &key_frame, this)
            .unwrap_or_default();
        let base = lookup_fn::lookup(self.tables.lookup, f.raw(1), &key).map_err(|_| fail())?;
        let days = dateinterval::interval_days(&date, &base).ok_or_else(fail)?;
        if f.args.len() == 3 {
            return Ok(days.to_string());
        }
        let origin = self.param(f.raw(3)).unwrap_or_default();
        incrementdate::increment_date(&origin, days).map_err(|_| fail())
    }

    fn lookup(&self, f: &FnCall, frame: &Frame, this: Tag) -> Result<String, Stop> {
        let mut key = String::new();
        for (i, name) in f.raw(0).split('|').enumerate() {
            if i > 0 {
                key.push('|');
            }
            key.push_str(&self.contents(name.trim(), frame, this).unwrap_or_default());
        }
        key = key.replace('\\', "");
        if f.raw(2) == "UC" {
            key = key.to_uppercase();
        }
        match lookup_fn::lookup(self.tables.lookup, f.raw(1), &key) {
            Ok(v) => Ok(v),
            Err(miss) => {
                if f.args.len() > 2 {
                    let action = f.arg(2);
                    match java_trim(&action) {
                        "keep" => return Ok("@keep()".into()),
                        "remove" => return Ok("@remove()".into()),
                        "empty" => return Ok("@empty()".into()),
                        "default" if f.args.len() > 3 => {
                            return Ok(java_trim(&f.arg(3)).to_string());
                        }
                        "ignore"
                            if f.args.len() > 3
                                && regex_fn::matches(&key, &f.arg(3))
                                    .map_err(Stop::Quarantine)? =>
                        {
                            return Ok(key);
                        }
                        _ => {}
                    }
                }
                Err(Stop::Quarantine(format!("@lookup: {}", miss.0)))
            }
        }
    }

    /// `@require([Element[,default]])`.
    fn require(&self, f: &FnCall, frame: &Frame, this: Tag) -> String {
        if frame.ds.get(this).is_some() {
            return "@keep()".into();
        }
        if f.args.is_empty() {
            return String::new();
        }
        let value = match self.element_tag(f.raw(0), frame.ds) {
            Some(tag) if frame.ds.get(tag).is_some() => {
                self.contents(f.raw(0), frame, this).unwrap_or_default()
            }
            _ if f.args.len() > 1 => f.arg(1),
            _ => String::new(),
        };
        if java_trim(&value).is_empty() {
            format!("@blank({})", value.chars().count())
        } else {
            value
        }
    }
}
