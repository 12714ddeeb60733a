//! Validated text values: names, emails, descriptions. Parse, don't validate.

use crate::ValidationError;

/// Trims `raw` and checks its length in characters; `field` names it in errors.
pub fn bounded(field: &str, raw: &str, min: usize, max: usize) -> Result<String, ValidationError> {
    let s = raw.trim();
    let n = s.chars().count();
    if n < min {
        return Err(ValidationError::new(
            field,
            format!("must be at least {min} characters"),
        ));
    }
    if n > max {
        return Err(ValidationError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(s.to_owned())
}

/// Optional variant of [`bounded`]; an empty string stays empty (it does not become `None`).
pub fn bounded_opt(
    field: &str,
    raw: Option<&str>,
    max: usize,
) -> Result<Option<String>, ValidationError> {
    raw.map(|s| bounded(field, s, 0, max)).transpose()
}

/// The key under which names are unique: trimmed and case-folded.
pub fn name_key(name: &str) -> String {
    name.trim().to_lowercase()
}

/// An email address: trimmed, one `@` with text on both sides and a dot in the
/// domain, at most 254 characters. Stored as given; compared lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn parse(field: &str, raw: &str) -> Result<Self, ValidationError> {
        let s = raw.trim();
        let valid = s.len() <= 254
            && !s.chars().any(char::is_whitespace)
            && match s.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with('.')
                        && !domain.ends_with('.')
                }
                None => false,
            };
        if valid {
            Ok(Self(s.to_owned()))
        } else {
            Err(ValidationError::new(field, "must be a valid email address"))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    pub fn normalized(&self) -> String {
        self.0.to_lowercase()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounded_counts_characters_after_trimming() {
        assert_eq!(bounded("name", "  ab ", 1, 2).unwrap(), "ab");
        assert!(bounded("name", "   ", 1, 5).is_err());
        assert!(bounded("name", &"é".repeat(256), 1, 255).is_err());
        assert!(bounded("name", &"é".repeat(255), 1, 255).is_ok());
    }

    #[test]
    fn emails() {
        assert!(Email::parse("email", "a@b.co").is_ok());
        for bad in ["", "a", "a@b", "@b.co", "a@@b.co", "a b@c.de", "a@.co"] {
            assert!(Email::parse("email", bad).is_err(), "{bad}");
        }
        assert_eq!(
            Email::parse("email", "Jane@X.io").unwrap().normalized(),
            "jane@x.io"
        );
    }
}
