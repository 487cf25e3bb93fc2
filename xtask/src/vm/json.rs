//! Just enough JSON to read cargo's `--message-format=json` lines, so xtask
//! needs no serde. Numbers are kept as their text: nothing here computes with
//! them.

use std::collections::BTreeMap;

use anyhow::{bail, Context as _, Result};

#[derive(Debug, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Number(String),
    String(String),
    Array(Vec<Value>),
    Object(BTreeMap<String, Value>),
}

impl Value {
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(map) => map.get(key),
            _ => None,
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::String(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array(items) => Some(items),
            _ => None,
        }
    }
}

pub fn parse(text: &str) -> Result<Value> {
    let mut p = Parser {
        bytes: text.as_bytes(),
        pos: 0,
    };
    let value = p.value()?;
    p.skip_ws();
    if p.pos != p.bytes.len() {
        bail!("trailing characters at byte {}", p.pos);
    }
    Ok(value)
}

struct Parser<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl Parser<'_> {
    fn value(&mut self) -> Result<Value> {
        self.skip_ws();
        match self.peek()? {
            b'{' => self.object(),
            b'[' => self.array(),
            b'"' => Ok(Value::String(self.string()?)),
            b't' => self.literal("true", Value::Bool(true)),
            b'f' => self.literal("false", Value::Bool(false)),
            b'n' => self.literal("null", Value::Null),
            b'-' | b'0'..=b'9' => Ok(self.number()),
            c => bail!("unexpected {:?} at byte {}", c as char, self.pos),
        }
    }

    fn object(&mut self) -> Result<Value> {
        self.pos += 1;
        let mut map = BTreeMap::new();
        self.skip_ws();
        if self.peek()? == b'}' {
            self.pos += 1;
            return Ok(Value::Object(map));
        }
        loop {
            self.skip_ws();
            let key = self.string()?;
            self.skip_ws();
            self.expect(b':')?;
            let value = self.value()?;
            map.insert(key, value);
            self.skip_ws();
            match self.next()? {
                b',' => continue,
                b'}' => return Ok(Value::Object(map)),
                c => bail!(
                    "expected ',' or '}}', found {:?} at byte {}",
                    c as char,
                    self.pos - 1
                ),
            }
        }
    }

    fn array(&mut self) -> Result<Value> {
        self.pos += 1;
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek()? == b']' {
            self.pos += 1;
            return Ok(Value::Array(items));
        }
        loop {
            items.push(self.value()?);
            self.skip_ws();
            match self.next()? {
                b',' => continue,
                b']' => return Ok(Value::Array(items)),
                c => bail!(
                    "expected ',' or ']', found {:?} at byte {}",
                    c as char,
                    self.pos - 1
                ),
            }
        }
    }

    fn string(&mut self) -> Result<String> {
        self.expect(b'"')?;
        let mut out = Vec::new();
        loop {
            match self.next()? {
                b'"' => break,
                b'\\' => match self.next()? {
                    b'"' => out.push(b'"'),
                    b'\\' => out.push(b'\\'),
                    b'/' => out.push(b'/'),
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'u' => {
                        let c = self.unicode_escape()?;
                        out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
                    }
                    c => bail!("bad escape \\{} at byte {}", c as char, self.pos - 1),
                },
                c => out.push(c),
            }
        }
        String::from_utf8(out).context("string is not UTF-8")
    }

    /// After `\u`: one code unit, or a surrogate pair spelled as two escapes.
    fn unicode_escape(&mut self) -> Result<char> {
        let high = self.hex4()?;
        let code = if (0xd800..0xdc00).contains(&high) {
            self.expect(b'\\')?;
            self.expect(b'u')?;
            let low = self.hex4()?;
            if !(0xdc00..0xe000).contains(&low) {
                bail!("unpaired surrogate at byte {}", self.pos);
            }
            0x10000 + ((high - 0xd800) << 10) + (low - 0xdc00)
        } else {
            high
        };
        char::from_u32(code).with_context(|| format!("bad code point {code:#x}"))
    }

    fn hex4(&mut self) -> Result<u32> {
        let end = self.pos + 4;
        let digits = self
            .bytes
            .get(self.pos..end)
            .context("truncated \\u escape")?;
        let digits = std::str::from_utf8(digits).context("bad \\u escape")?;
        let code = u32::from_str_radix(digits, 16)
            .with_context(|| format!("bad \\u escape {digits:?}"))?;
        self.pos = end;
        Ok(code)
    }

    fn number(&mut self) -> Value {
        let start = self.pos;
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|c| matches!(c, b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'))
        {
            self.pos += 1;
        }
        Value::Number(String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned())
    }

    fn literal(&mut self, word: &str, value: Value) -> Result<Value> {
        if self.bytes[self.pos..].starts_with(word.as_bytes()) {
            self.pos += word.len();
            Ok(value)
        } else {
            bail!("unexpected token at byte {}", self.pos)
        }
    }

    fn skip_ws(&mut self) {
        while self
            .bytes
            .get(self.pos)
            .is_some_and(|c| c.is_ascii_whitespace())
        {
            self.pos += 1;
        }
    }

    fn expect(&mut self, want: u8) -> Result<()> {
        let got = self.next()?;
        if got != want {
            bail!(
                "expected {:?}, found {:?} at byte {}",
                want as char,
                got as char,
                self.pos - 1
            );
        }
        Ok(())
    }

    fn peek(&self) -> Result<u8> {
        self.bytes
            .get(self.pos)
            .copied()
            .context("unexpected end of input")
    }

    fn next(&mut self) -> Result<u8> {
        let c = self.peek()?;
        self.pos += 1;
        Ok(c)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_cargo_artifact_line() {
        let line = r#"{"reason":"compiler-artifact","target":{"kind":["test"],"name":"vm_smoke","test":true},"profile":{"opt_level":"0"},"executable":"/t/vm_smoke-ab\u00e9","fresh":false,"x":[1,-2.5e3,null]}"#;
        let v = parse(line).unwrap();
        assert_eq!(
            v.get("reason").and_then(Value::as_str),
            Some("compiler-artifact")
        );
        let target = v.get("target").unwrap();
        assert_eq!(target.get("name").and_then(Value::as_str), Some("vm_smoke"));
        assert_eq!(
            target.get("kind").and_then(Value::as_array),
            Some(&[Value::String("test".into())][..])
        );
        assert_eq!(
            v.get("executable").and_then(Value::as_str),
            Some("/t/vm_smoke-abé")
        );
        assert_eq!(v.get("fresh"), Some(&Value::Bool(false)));
    }

    #[test]
    fn surrogate_pairs_and_escapes() {
        let v = parse(r#" "a\"b\\c\ud83d\ude00\n" "#).unwrap();
        assert_eq!(v, Value::String("a\"b\\c😀\n".into()));
    }

    #[test]
    fn rejects_garbage() {
        assert!(parse("{\"a\":1,}").is_err());
        assert!(parse("[1 2]").is_err());
        assert!(parse("\"open").is_err());
        assert!(parse("{} x").is_err());
    }
}
