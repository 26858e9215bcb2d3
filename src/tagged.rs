//! `{"kind": "…", …}` JSON for enums, with error paths that reach inside the variant.
//!
//! serde's internally tagged enums buffer their content, so a bad value inside a variant is
//! reported without its key (`data: invalid value`, not `data.labels[1]: invalid value`). We derive
//! the externally tagged form with `#[serde(remote = "Self")]` instead, convert between
//! `{"kind": k, …}` and `{k: {…}}` here, and track the path inside the variant ourselves. The
//! inner path travels in the error message between two `\u{1}` marks, and
//! [`crate::run::scenario::Scenario::from_json`] joins it to the outer path.

use serde_json::{Map, Value};

/// Mark that brackets an inner path at the start of an error message.
pub(crate) const MARK: char = '\u{1}';

/// Turns an externally tagged value (`"unit"` or `{"variant": {…}}`) into `{"kind": …, …}`.
pub(crate) fn to_internal(v: Value) -> Value {
    match v {
        Value::String(kind) => {
            let mut m = Map::new();
            m.insert("kind".into(), Value::String(kind));
            Value::Object(m)
        }
        Value::Object(outer) if outer.len() == 1 => {
            let (kind, inner) = outer.into_iter().next().expect("one entry");
            let mut m = Map::new();
            m.insert("kind".into(), Value::String(kind));
            if let Value::Object(fields) = inner {
                m.extend(fields);
            }
            Value::Object(m)
        }
        other => other,
    }
}

/// Splits an error message produced by [`deserialize_internal`] into (inner path, message).
pub fn split_inner_path(msg: &str) -> Option<(&str, &str)> {
    let rest = msg.strip_prefix(MARK)?;
    let end = rest.find(MARK)?;
    Some((&rest[..end], &rest[end + MARK.len_utf8()..]))
}

/// Deserializes `{"kind": k, …}` with `external`, the derived externally tagged deserializer.
///
/// Errors carry the path inside the variant (see the module docs).
pub(crate) fn deserialize_internal<T, E>(
    v: Value,
    external: impl for<'a, 'b> Fn(
        serde_path_to_error::Deserializer<'a, 'b, Value>,
    ) -> Result<T, serde_json::Error>,
) -> Result<T, E>
where
    E: serde::de::Error,
{
    let err = |path: &str, msg: String| E::custom(format!("{MARK}{path}{MARK}{msg}"));
    let Value::Object(mut fields) = v else {
        return Err(E::custom(format!(
            "expected an object with a \"kind\" key, got {v}"
        )));
    };
    let kind = match fields.remove("kind") {
        Some(Value::String(k)) => k,
        Some(other) => return Err(err("kind", format!("must be a string, got {other}"))),
        None => return Err(err("kind", "is missing".into())),
    };
    // Unit variants are plain strings in the external form; struct variants are maps.
    let candidates = if fields.is_empty() {
        vec![
            Value::String(kind.clone()),
            single(&kind, Value::Object(Map::new())),
        ]
    } else {
        vec![single(&kind, Value::Object(fields))]
    };
    let mut last = None;
    for c in candidates {
        let mut track = serde_path_to_error::Track::new();
        let de = serde_path_to_error::Deserializer::new(c, &mut track);
        match external(de) {
            Ok(t) => return Ok(t),
            Err(e) => {
                let path = track.path();
                // Drop the variant segment: users write `labels[1]`, not `custom.labels[1]`.
                let inner: Vec<String> = path
                    .iter()
                    .skip(1)
                    .map(|seg| match seg {
                        serde_path_to_error::Segment::Seq { index } => format!("[{index}]"),
                        other => format!(".{other}"),
                    })
                    .collect();
                let inner = inner.concat();
                let inner = inner.trim_start_matches('.').to_string();
                let msg = e.to_string();
                let inner = if inner.is_empty() && msg.starts_with("unknown variant") {
                    "kind".to_string()
                } else {
                    inner
                };
                last = Some(err(&inner, msg));
            }
        }
    }
    Err(last.expect("at least one candidate"))
}

fn single(kind: &str, inner: Value) -> Value {
    let mut m = Map::new();
    m.insert(kind.into(), inner);
    Value::Object(m)
}

/// Implements `Serialize`/`Deserialize` in the `{"kind": …}` form for an enum that derives them
/// with `#[serde(remote = "Self")]`.
macro_rules! kind_tagged {
    ($t:ty) => {
        impl serde::Serialize for $t {
            fn serialize<S: serde::Serializer>(
                &self,
                s: S,
            ) -> std::result::Result<S::Ok, S::Error> {
                let v = <$t>::serialize(self, serde_json::value::Serializer)
                    .map_err(<S::Error as serde::ser::Error>::custom)?;
                serde::Serialize::serialize(&$crate::tagged::to_internal(v), s)
            }
        }
        impl<'de> serde::Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(
                d: D,
            ) -> std::result::Result<Self, D::Error> {
                let v = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
                $crate::tagged::deserialize_internal(v, |de| <$t>::deserialize(de))
            }
        }
    };
}
pub(crate) use kind_tagged;
