//! The Kafka command-line options shared by `serve` and `replay`, and the librdkafka
//! client configuration built from them.
//!
//! The cluster and every client setting come from the command line only: a browser never
//! chooses a broker or a librdkafka property. `-X` passes settings through like kcat does
//! (TLS, SASL), but settings that run commands, load libraries or fetch URLs are refused
//! unless `--allow-unsafe-client-config` is given, so a copied command line cannot turn
//! the bridge into a launcher.

use std::str::FromStr;

use clap::Args;
use rdkafka::ClientConfig;

/// `--brokers`, `-X` and `--allow-unsafe-client-config`.
#[derive(Debug, Clone, Default, Args)]
pub struct KafkaArgs {
    /// Kafka bootstrap servers.
    #[arg(long, env = "EVENTFOLD_BROKERS", value_name = "HOST:PORT[,…]")]
    pub brokers: Option<String>,
    /// A librdkafka client setting, as kcat's -X (TLS, SASL, …); repeat for more.
    /// Command line only, never from the environment or a browser.
    #[arg(short = 'X', value_name = "KEY=VALUE")]
    pub client_config: Vec<Setting>,
    /// Accept -X settings that run commands, load libraries or fetch URLs
    /// (sasl.kerberos.kinit.cmd, plugin.library.paths, ssl.engine.location, *.url, …).
    #[arg(long)]
    pub allow_unsafe_client_config: bool,
}

/// One `-X key=value`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    pub value: String,
}

/// A `-X` argument without `=`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not KEY=VALUE (a librdkafka setting, e.g. -X security.protocol=SSL)")]
pub struct SettingError(String);

impl FromStr for Setting {
    type Err = SettingError;

    fn from_str(text: &str) -> Result<Setting, SettingError> {
        match text.split_once('=') {
            Some((key, value)) if !key.trim().is_empty() => Ok(Setting {
                key: key.trim().to_owned(),
                value: value.to_owned(),
            }),
            _ => Err(SettingError(text.to_owned())),
        }
    }
}

/// Why the Kafka options cannot make a client configuration.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("no Kafka brokers: pass --brokers HOST:PORT[,…] or set EVENTFOLD_BROKERS")]
    NoBrokers,
    #[error("-X {key}: {reason}; this is refused unless --allow-unsafe-client-config is given")]
    Unsafe { key: String, reason: &'static str },
    #[error("-X {key}: the cluster is set with --brokers, not with -X")]
    Brokers { key: String },
}

/// Settings that make librdkafka run a program, load code or fetch a URL, with why.
/// Keys ending in `.url` or `.cmd` are caught by [`unsafe_reason`] as well, so a setting
/// added by a later librdkafka is refused by default too. Paths of certificate and key
/// files are fine: they are read, not run.
const UNSAFE_KEYS: &[(&str, &str)] = &[
    ("sasl.kerberos.kinit.cmd", "it runs a shell command"),
    ("plugin.library.paths", "it loads shared libraries"),
    ("ssl.engine.location", "it loads an OpenSSL engine library"),
    ("ssl.engine.id", "it selects an OpenSSL engine to load"),
    ("ssl.providers", "it loads OpenSSL provider modules"),
    (
        "sasl.oauthbearer.metadata.authentication.type",
        "it fetches tokens from a metadata URL",
    ),
];

/// Why a `-X` setting is unsafe, or `None` when it is not.
pub fn unsafe_reason(key: &str, value: &str) -> Option<&'static str> {
    let key = key.to_ascii_lowercase();
    if let Some((_, reason)) = UNSAFE_KEYS.iter().find(|(k, _)| *k == key) {
        return Some(reason);
    }
    if key.ends_with(".url") {
        return Some("it makes the client fetch a URL");
    }
    if key.ends_with(".cmd") {
        return Some("it runs a command");
    }
    // OIDC makes librdkafka fetch tokens over HTTP(S) from a URL setting.
    if key == "sasl.oauthbearer.method" && !value.eq_ignore_ascii_case("default") {
        return Some("OIDC makes the client fetch tokens from a URL");
    }
    None
}

impl KafkaArgs {
    /// Whether Kafka is configured at all (`serve` without `--brokers` serves the page
    /// alone).
    pub fn enabled(&self) -> bool {
        self.brokers
            .as_deref()
            .is_some_and(|b| !b.trim().is_empty())
    }

    /// The base librdkafka configuration: the brokers and the `-X` settings, checked.
    /// Consumers and producers add their own fixed settings on top.
    pub fn client_config(&self) -> Result<ClientConfig, ConfigError> {
        let brokers = self
            .brokers
            .as_deref()
            .map(str::trim)
            .filter(|b| !b.is_empty())
            .ok_or(ConfigError::NoBrokers)?;
        let mut config = ClientConfig::new();
        for Setting { key, value } in &self.client_config {
            if matches!(
                key.to_ascii_lowercase().as_str(),
                "bootstrap.servers" | "metadata.broker.list"
            ) {
                return Err(ConfigError::Brokers { key: key.clone() });
            }
            if !self.allow_unsafe_client_config
                && let Some(reason) = unsafe_reason(key, value)
            {
                return Err(ConfigError::Unsafe {
                    key: key.clone(),
                    reason,
                });
            }
            config.set(key, value);
        }
        config.set("bootstrap.servers", brokers);
        config.set("client.id", "eventfold-bridge");
        Ok(config)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(settings: &[&str], allow_unsafe: bool) -> KafkaArgs {
        KafkaArgs {
            brokers: Some("127.0.0.1:9092".into()),
            client_config: settings.iter().map(|s| s.parse().unwrap()).collect(),
            allow_unsafe_client_config: allow_unsafe,
        }
    }

    fn check(settings: &[&str], allow_unsafe: bool, expected: Result<(), &str>) {
        let got = args(settings, allow_unsafe)
            .client_config()
            .map(|_| ())
            .map_err(|e| e.to_string());
        assert_eq!(got, expected.map_err(str::to_owned), "{settings:?}");
    }

    #[test]
    fn settings_that_run_load_or_fetch_are_refused_unless_allowed() {
        check(
            &["security.protocol=SSL", "ssl.ca.location=/etc/ca.pem"],
            false,
            Ok(()),
        );
        check(
            &["sasl.kerberos.kinit.cmd=touch /tmp/x"],
            false,
            Err(
                "-X sasl.kerberos.kinit.cmd: it runs a shell command; this is refused unless --allow-unsafe-client-config is given",
            ),
        );
        check(
            &["plugin.library.paths=/tmp/evil.so"],
            false,
            Err(
                "-X plugin.library.paths: it loads shared libraries; this is refused unless --allow-unsafe-client-config is given",
            ),
        );
        check(
            &["SSL.Engine.Location=/tmp/engine.so"],
            false,
            Err(
                "-X SSL.Engine.Location: it loads an OpenSSL engine library; this is refused unless --allow-unsafe-client-config is given",
            ),
        );
        check(
            &["sasl.oauthbearer.token.endpoint.url=http://127.0.0.1/"],
            false,
            Err(
                "-X sasl.oauthbearer.token.endpoint.url: it makes the client fetch a URL; this is refused unless --allow-unsafe-client-config is given",
            ),
        );
        check(
            &["sasl.oauthbearer.method=oidc"],
            false,
            Err(
                "-X sasl.oauthbearer.method: OIDC makes the client fetch tokens from a URL; this is refused unless --allow-unsafe-client-config is given",
            ),
        );
        check(&["sasl.oauthbearer.method=default"], false, Ok(()));
        check(&["plugin.library.paths=/tmp/evil.so"], true, Ok(()));
        check(
            &["bootstrap.servers=evil:9092"],
            true,
            Err("-X bootstrap.servers: the cluster is set with --brokers, not with -X"),
        );
    }

    #[test]
    fn malformed_settings_and_missing_brokers_are_clear_errors() {
        assert_eq!(
            "security.protocol"
                .parse::<Setting>()
                .unwrap_err()
                .to_string(),
            "\"security.protocol\" is not KEY=VALUE (a librdkafka setting, e.g. -X security.protocol=SSL)"
        );
        assert!("=x".parse::<Setting>().is_err());
        assert_eq!(
            "a=b=c".parse::<Setting>(),
            Ok(Setting {
                key: "a".into(),
                value: "b=c".into()
            })
        );
        let none = KafkaArgs::default();
        assert!(!none.enabled());
        assert_eq!(
            none.client_config().unwrap_err().to_string(),
            "no Kafka brokers: pass --brokers HOST:PORT[,…] or set EVENTFOLD_BROKERS"
        );
    }
}
