//! `${provider:[path:]key}` placeholders, resolved at load time for the three providers Kafka ships, so secrets
//! can stay out of the config file exactly as they do with MM2:
//!
//! | class (in `.properties`)                                       | TOML name   | placeholder            | value                        |
//! |----------------------------------------------------------------|-------------|------------------------|------------------------------|
//! | `org.apache.kafka.common.config.provider.FileConfigProvider`      | `file`      | `${file:PATH:KEY}`     | KEY in the properties file PATH |
//! | `org.apache.kafka.common.config.provider.EnvVarConfigProvider`    | `env`       | `${env:NAME}`          | environment variable NAME    |
//! | `org.apache.kafka.common.config.provider.DirectoryConfigProvider` | `dir`       | `${dir:DIR:FILE}`      | contents of DIR/FILE         |
//!
//! In `.properties` a provider is active only when declared as MM2 requires (`config.providers = file` and
//! `config.providers.file.class = ...FileConfigProvider`); other placeholders stay literal with a warning. In
//! TOML the three names above are always active. A placeholder that cannot be resolved (missing file, key or
//! variable) is an error naming the setting, not a literal string sent to the broker as a password.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::OnceLock;

use super::error::{ConfigWarning, Problem, WarningKind};
use super::raw::{Format, RawConfig, RawValue};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Provider {
    File,
    Env,
    Directory,
}

const FILE_CLASS: &str = "org.apache.kafka.common.config.provider.FileConfigProvider";
const ENV_CLASS: &str = "org.apache.kafka.common.config.provider.EnvVarConfigProvider";
const DIR_CLASS: &str = "org.apache.kafka.common.config.provider.DirectoryConfigProvider";

fn pattern() -> &'static regex::Regex {
    static RE: OnceLock<regex::Regex> = OnceLock::new();
    // Kafka's ConfigTransformer pattern.
    RE.get_or_init(|| {
        regex::Regex::new(r"\$\{([^}]*?):(([^}]*?):)?([^}]*?)\}").unwrap_or_else(|_| unreachable!())
    })
}

/// Whether a key belongs to the provider declarations (handled here, not by the interpreter).
pub(crate) fn is_provider_key(key: &str) -> bool {
    key == "config.providers" || key.starts_with("config.providers.")
}

/// Replaces resolvable placeholders in every value, in place.
pub(crate) fn resolve(
    raw: &mut RawConfig,
    warnings: &mut Vec<ConfigWarning>,
    problems: &mut Vec<Problem>,
) {
    let providers = declared(raw, warnings);
    let file = raw.file.clone();
    let keys: Vec<String> = raw
        .entries
        .keys()
        .filter(|k| !is_provider_key(k))
        .cloned()
        .collect();
    for key in keys {
        let Some(entry) = raw.entries.get_mut(&key) else {
            continue;
        };
        let shown = entry.written_as.clone().unwrap_or_else(|| key.clone());
        let line = entry.line;
        let mut resolve_one = |text: &str| -> String {
            match substitute(text, &providers) {
                Ok((out, unresolved)) => {
                    for name in unresolved {
                        warnings.push(ConfigWarning {
                            key: shown.clone(),
                            line,
                            kind: WarningKind::Placeholder,
                            message: format!(
                                "`${{{name}:...}}` is left as written: no config provider `{name}` is declared \
                                 (declare `config.providers = {name}` and `config.providers.{name}.class`)"
                            ),
                        });
                    }
                    out
                }
                Err(message) => {
                    problems.push(Problem {
                        file: file.clone(),
                        line,
                        key: shown.clone(),
                        message,
                        fix: "fix the placeholder or the file/variable it points to".to_owned(),
                    });
                    text.to_owned()
                }
            }
        };
        entry.value = match &entry.value {
            RawValue::Text(t) => RawValue::Text(resolve_one(t)),
            RawValue::List(items) => RawValue::List(items.iter().map(|t| resolve_one(t)).collect()),
        };
    }
}

fn declared(raw: &RawConfig, warnings: &mut Vec<ConfigWarning>) -> BTreeMap<String, Provider> {
    let mut out = BTreeMap::new();
    if raw.format == Format::Toml {
        out.insert("file".to_owned(), Provider::File);
        out.insert("env".to_owned(), Provider::Env);
        out.insert("dir".to_owned(), Provider::Directory);
        return out;
    }
    let Some(list) = raw.entries.get("config.providers") else {
        return out;
    };
    for name in list.value.as_list() {
        let class_key = format!("config.providers.{name}.class");
        let class = raw.entries.get(&class_key).map(|e| e.value.as_text());
        let provider = match class.as_deref().map(str::trim) {
            Some(FILE_CLASS) => Provider::File,
            Some(ENV_CLASS) => Provider::Env,
            Some(DIR_CLASS) => Provider::Directory,
            other => {
                warnings.push(ConfigWarning {
                    key: class_key.clone(),
                    line: raw.entries.get(&class_key).and_then(|e| e.line),
                    kind: WarningKind::Ignored,
                    message: match other {
                        Some(c) => format!(
                            "config provider class `{c}` is not supported (kmirror resolves the File, EnvVar and \
                             Directory providers only); its placeholders stay as written"
                        ),
                        None => format!("config provider `{name}` has no class; its placeholders stay as written"),
                    },
                });
                continue;
            }
        };
        out.insert(name, provider);
    }
    out
}

/// Returns the text with placeholders replaced, and the names of undeclared providers seen.
fn substitute(
    text: &str,
    providers: &BTreeMap<String, Provider>,
) -> Result<(String, Vec<String>), String> {
    let mut out = String::with_capacity(text.len());
    let mut unresolved = Vec::new();
    let mut last = 0;
    for caps in pattern().captures_iter(text) {
        let Some(whole) = caps.get(0) else { continue };
        out.push_str(&text[last..whole.start()]);
        last = whole.end();
        let name = caps.get(1).map_or("", |m| m.as_str());
        let path = caps.get(3).map(|m| m.as_str());
        let key = caps.get(4).map_or("", |m| m.as_str());
        match providers.get(name) {
            None => {
                unresolved.push(name.to_owned());
                out.push_str(whole.as_str());
            }
            Some(provider) => out.push_str(&lookup(*provider, path, key, whole.as_str())?),
        }
    }
    out.push_str(&text[last..]);
    Ok((out, unresolved))
}

fn lookup(
    provider: Provider,
    path: Option<&str>,
    key: &str,
    placeholder: &str,
) -> Result<String, String> {
    match provider {
        Provider::Env => std::env::var(key)
            .map_err(|_| format!("{placeholder}: environment variable `{key}` is not set")),
        Provider::File => {
            let path = path.ok_or_else(|| {
                format!("{placeholder}: the file provider needs `${{file:PATH:KEY}}`")
            })?;
            let bytes = std::fs::read(path)
                .map_err(|e| format!("{placeholder}: cannot read `{path}`: {e}"))?;
            let props = super::properties::parse(&bytes, Some(Path::new(path)))
                .map_err(|e| format!("{placeholder}: `{path}` is not a properties file: {e}"))?;
            props
                .entries
                .get(key)
                .map(|e| e.value.as_text())
                .ok_or_else(|| format!("{placeholder}: `{path}` has no key `{key}`"))
        }
        Provider::Directory => {
            let dir = path.ok_or_else(|| {
                format!("{placeholder}: the directory provider needs `${{dir:DIR:FILE}}`")
            })?;
            let file = Path::new(dir).join(key);
            std::fs::read_to_string(&file)
                .map_err(|e| format!("{placeholder}: cannot read `{}`: {e}", file.display()))
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn providers() -> BTreeMap<String, Provider> {
        [
            ("env".to_owned(), Provider::Env),
            ("file".to_owned(), Provider::File),
        ]
        .into_iter()
        .collect()
    }

    #[test]
    fn env_and_file_placeholders() {
        let dir = std::env::temp_dir().join(format!("kmirror-ph-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let secrets = dir.join("secrets.properties");
        std::fs::write(&secrets, "pw = s3cret\n").unwrap();
        let text = format!(
            "user=\"u\" password=\"${{file:{}:pw}}\";",
            secrets.display()
        );
        let (out, unresolved) = substitute(&text, &providers()).unwrap();
        assert_eq!(out, "user=\"u\" password=\"s3cret\";");
        assert!(unresolved.is_empty());

        let (out, _) = substitute("${env:PATH}", &providers()).unwrap();
        assert_eq!(out, std::env::var("PATH").unwrap());

        let err = substitute("${env:KMIRROR_SURELY_UNSET_VARIABLE}", &providers()).unwrap_err();
        assert!(err.contains("KMIRROR_SURELY_UNSET_VARIABLE"), "{err}");
        let err = substitute(
            &format!("${{file:{}:nope}}", secrets.display()),
            &providers(),
        )
        .unwrap_err();
        assert!(err.contains("has no key `nope`"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn undeclared_provider_stays_literal() {
        let (out, unresolved) = substitute("a ${vault:secret/x:pw} b", &providers()).unwrap();
        assert_eq!(out, "a ${vault:secret/x:pw} b");
        assert_eq!(unresolved, vec!["vault"]);
        let (out, unresolved) = substitute("no placeholders", &providers()).unwrap();
        assert_eq!(out, "no placeholders");
        assert!(unresolved.is_empty());
    }
}
