//! Turning broker error codes into [`Error`]s that name the resource, and for authorization failures the
//! principal we act as, so an operator knows which ACL to add.

use kafka_protocol::error::ResponseError;
use kafka_protocol::protocol::StrBytes;

use crate::config::ClientConfig;
use crate::error::Error;

/// How the brokers will see this client, for error messages: SASL user, TLS certificate, or anonymous.
pub(crate) fn principal_of(config: &ClientConfig) -> String {
    if let Some(sasl) = &config.sasl {
        return format!("User:{}", sasl.username);
    }
    if config.security_protocol.uses_tls() && config.tls.has_client_cert() {
        return "the principal of the TLS client certificate (User:CN=...)".to_string();
    }
    "User:ANONYMOUS".to_string()
}

fn is_authorization(code: ResponseError) -> bool {
    matches!(
        code,
        ResponseError::TopicAuthorizationFailed
            | ResponseError::GroupAuthorizationFailed
            | ResponseError::ClusterAuthorizationFailed
            | ResponseError::TransactionalIdAuthorizationFailed
            | ResponseError::DelegationTokenAuthorizationFailed
    )
}

/// `Err` for a non-zero error code: `what` says what we were doing to which resource ("create topic
/// 'orders'"); authorization failures also name `principal`.
pub(crate) fn check(
    code: i16,
    message: Option<&StrBytes>,
    principal: &str,
    what: impl FnOnce() -> String,
) -> Result<(), Error> {
    match ResponseError::try_from_code(code) {
        None => Ok(()),
        Some(code) => Err(kafka_error(code, message, principal, what())),
    }
}

/// [`Error::Kafka`] for `code`, with `context` (plus the principal for authorization failures).
pub(crate) fn kafka_error(
    code: ResponseError,
    message: Option<&StrBytes>,
    principal: &str,
    mut context: String,
) -> Error {
    if is_authorization(code) {
        context.push_str(" as ");
        context.push_str(principal);
    }
    Error::Kafka {
        code,
        context,
        message: message
            .map(|m| m.as_str())
            .filter(|m| !m.is_empty())
            .map(str::to_string),
    }
}

/// Adds the principal to an authorization failure raised below the admin layer (FindCoordinator
/// refused for a group, say), so every such error says whom to grant.
pub(crate) fn with_principal(e: Error, principal: &str) -> Error {
    match e {
        Error::Kafka {
            code,
            mut context,
            message,
        } if is_authorization(code) && !context.contains(principal) => {
            context.push_str(" as ");
            context.push_str(principal);
            Error::Kafka {
                code,
                context,
                message,
            }
        }
        other => other,
    }
}

/// A response that should have answered for `what` did not mention it.
pub(crate) fn missing(api: &'static str, what: String) -> Error {
    Error::Protocol {
        broker: "(any)".to_string(),
        api,
        message: format!("the response has no result for {what}"),
    }
}

pub(crate) fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

pub(crate) fn st(s: &StrBytes) -> String {
    s.as_str().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_failures_name_the_principal() {
        let e =
            check(29, None, "User:kmirror", || "create topic 'orders'".into()).expect_err("error");
        let s = e.to_string();
        assert!(s.contains("create topic 'orders' as User:kmirror"), "{s}");
        assert!(s.contains("ACL"), "{s}");
        assert_eq!(e.code(), Some(ResponseError::TopicAuthorizationFailed));
    }

    #[test]
    fn other_errors_keep_context_and_message() {
        let msg = sb("Topic 'orders' already exists.");
        let e =
            check(36, Some(&msg), "User:x", || "create topic 'orders'".into()).expect_err("error");
        let s = e.to_string();
        assert!(s.contains("create topic 'orders'"), "{s}");
        assert!(!s.contains("User:x"), "{s}");
        assert!(s.contains("already exists"), "{s}");
        assert!(check(0, Some(&msg), "User:x", || unreachable!()).is_ok());
    }

    #[test]
    fn principal_added_once_to_lower_layer_errors() {
        let e = Error::from_code(30, || "finding the coordinator of group 'g'".into(), None)
            .expect("error");
        let e = with_principal(e, "User:kmirror");
        assert!(e.to_string().contains("group 'g' as User:kmirror"), "{e}");
        let again = with_principal(e, "User:kmirror").to_string();
        assert_eq!(again.matches("User:kmirror").count(), 1, "{again}");
        let other = Error::from_code(7, || "x".into(), None).expect("error");
        assert!(
            !with_principal(other, "User:kmirror")
                .to_string()
                .contains("User:")
        );
    }

    #[test]
    fn principal_from_config() {
        let mut c = ClientConfig::new("127.0.0.1:9092");
        assert_eq!(principal_of(&c), "User:ANONYMOUS");
        c.sasl = Some(crate::config::SaslConfig {
            mechanism: crate::config::SaslMechanism::ScramSha512,
            username: "kmirror".into(),
            password: "p".into(),
        });
        assert_eq!(principal_of(&c), "User:kmirror");
    }
}
