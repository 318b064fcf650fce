//! DescribeAcls and CreateAcls, with Kafka's resource/pattern/operation/permission codes as enums, so
//! ACL sync can read source bindings, rewrite them and create them on the target.

use std::fmt;

use kafka_protocol::messages::create_acls_request::AclCreation;
use kafka_protocol::messages::{
    CreateAclsRequest, CreateAclsResponse, DescribeAclsRequest, DescribeAclsResponse,
};

use super::failure::{check, sb, st};
use crate::error::Error;

macro_rules! code_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $code:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vm])* $variant,)*
            /// A code this client does not know (from a newer broker).
            Unknown(i8),
        }

        impl $name {
            pub fn code(self) -> i8 {
                match self {
                    $($name::$variant => $code,)*
                    $name::Unknown(c) => c,
                }
            }

            pub fn from_code(code: i8) -> Self {
                match code {
                    $($code => $name::$variant,)*
                    other => $name::Unknown(other),
                }
            }
        }
    };
}

code_enum! {
    /// What kind of resource an ACL protects.
    ResourceType {
        /// Filters only: any type.
        Any = 1,
        Topic = 2,
        Group = 3,
        Cluster = 4,
        TransactionalId = 5,
        DelegationToken = 6,
        User = 7,
    }
}

code_enum! {
    /// How an ACL's resource name matches.
    PatternType {
        /// Filters only: literal or prefixed.
        Any = 1,
        /// Filters only: every binding that would apply to the name given.
        Match = 2,
        Literal = 3,
        Prefixed = 4,
    }
}

code_enum! {
    /// The operation an ACL allows or denies.
    AclOperation {
        /// Filters only.
        Any = 1,
        All = 2,
        Read = 3,
        Write = 4,
        Create = 5,
        Delete = 6,
        Alter = 7,
        Describe = 8,
        ClusterAction = 9,
        DescribeConfigs = 10,
        AlterConfigs = 11,
        IdempotentWrite = 12,
        CreateTokens = 13,
        DescribeTokens = 14,
        TwoPhaseCommit = 15,
    }
}

code_enum! {
    /// Allow or deny.
    AclPermission {
        /// Filters only.
        Any = 1,
        Deny = 2,
        Allow = 3,
    }
}

/// One ACL: `principal` from `host` may (or may not) do `operation` on the resources that
/// `resource_name` matches under `pattern_type`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AclBinding {
    pub resource_type: ResourceType,
    pub resource_name: String,
    pub pattern_type: PatternType,
    /// `User:alice`; `User:*` for everyone.
    pub principal: String,
    /// `*` for any host.
    pub host: String,
    pub operation: AclOperation,
    pub permission: AclPermission,
}

impl fmt::Display for AclBinding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} {} {:?} on {:?} {:?} '{}' from host {}",
            self.permission,
            self.principal,
            self.operation,
            self.pattern_type,
            self.resource_type,
            self.resource_name,
            self.host
        )
    }
}

/// Which ACLs to describe; `None` fields match anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AclFilter {
    pub resource_type: ResourceType,
    pub resource_name: Option<String>,
    pub pattern_type: PatternType,
    pub principal: Option<String>,
    pub host: Option<String>,
    pub operation: AclOperation,
    pub permission: AclPermission,
}

impl AclFilter {
    /// Every ACL in the cluster.
    pub fn any() -> Self {
        Self {
            resource_type: ResourceType::Any,
            resource_name: None,
            pattern_type: PatternType::Any,
            principal: None,
            host: None,
            operation: AclOperation::Any,
            permission: AclPermission::Any,
        }
    }

    /// Every ACL on topics (MM2's ACL sync reads these).
    pub fn topics() -> Self {
        Self {
            resource_type: ResourceType::Topic,
            ..Self::any()
        }
    }
}

pub(crate) fn build_describe_acls(filter: &AclFilter) -> DescribeAclsRequest {
    let mut req = DescribeAclsRequest::default();
    req.resource_type_filter = filter.resource_type.code();
    req.resource_name_filter = filter.resource_name.as_deref().map(sb);
    req.pattern_type_filter = filter.pattern_type.code();
    req.principal_filter = filter.principal.as_deref().map(sb);
    req.host_filter = filter.host.as_deref().map(sb);
    req.operation = filter.operation.code();
    req.permission_type = filter.permission.code();
    req
}

/// The matching bindings. A cluster without an authorizer fails with `ResponseError::SecurityDisabled`
/// (ACL sync should then be skipped with a warning, as MM2 does).
pub(crate) fn interpret_describe_acls(
    resp: DescribeAclsResponse,
    principal: &str,
) -> Result<Vec<AclBinding>, Error> {
    check(
        resp.error_code,
        resp.error_message.as_ref(),
        principal,
        || "describe ACLs".to_string(),
    )?;
    let mut out = Vec::new();
    for r in resp.resources {
        for a in r.acls {
            out.push(AclBinding {
                resource_type: ResourceType::from_code(r.resource_type),
                resource_name: st(&r.resource_name),
                pattern_type: PatternType::from_code(r.pattern_type),
                principal: st(&a.principal),
                host: st(&a.host),
                operation: AclOperation::from_code(a.operation),
                permission: AclPermission::from_code(a.permission_type),
            });
        }
    }
    Ok(out)
}

pub(crate) fn build_create_acls(bindings: &[AclBinding]) -> CreateAclsRequest {
    let mut req = CreateAclsRequest::default();
    req.creations = bindings
        .iter()
        .map(|b| {
            let mut c = AclCreation::default();
            c.resource_type = b.resource_type.code();
            c.resource_name = sb(&b.resource_name);
            c.resource_pattern_type = b.pattern_type.code();
            c.principal = sb(&b.principal);
            c.host = sb(&b.host);
            c.operation = b.operation.code();
            c.permission_type = b.permission.code();
            c
        })
        .collect();
    req
}

/// Per binding, in request order (the response is positional). Creating an ACL that exists succeeds.
pub(crate) fn interpret_create_acls(
    bindings: &[AclBinding],
    resp: CreateAclsResponse,
    principal: &str,
) -> Result<super::Results<AclBinding, ()>, Error> {
    if resp.results.len() != bindings.len() {
        return Err(Error::Protocol {
            broker: "(controller)".to_string(),
            api: "CreateAcls",
            message: format!(
                "{} results for {} ACL creations",
                resp.results.len(),
                bindings.len()
            ),
        });
    }
    Ok(bindings
        .iter()
        .zip(resp.results)
        .map(|(b, r)| {
            let res = check(r.error_code, r.error_message.as_ref(), principal, || {
                format!("create ACL ({b})")
            });
            (b.clone(), res)
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use kafka_protocol::error::ResponseError;
    use kafka_protocol::messages::create_acls_response::AclCreationResult;
    use kafka_protocol::messages::describe_acls_response::{AclDescription, DescribeAclsResource};
    use kafka_protocol::protocol::{Encodable, Message};

    use super::*;

    fn binding(pattern: PatternType, name: &str) -> AclBinding {
        AclBinding {
            resource_type: ResourceType::Topic,
            resource_name: name.into(),
            pattern_type: pattern,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission: AclPermission::Allow,
        }
    }

    #[test]
    fn codes_round_trip() {
        for c in 0..20 {
            assert_eq!(ResourceType::from_code(c).code(), c);
            assert_eq!(PatternType::from_code(c).code(), c);
            assert_eq!(AclOperation::from_code(c).code(), c);
            assert_eq!(AclPermission::from_code(c).code(), c);
        }
        assert_eq!(AclOperation::from_code(3), AclOperation::Read);
        assert_eq!(PatternType::from_code(4), PatternType::Prefixed);
        assert_eq!(AclPermission::from_code(2), AclPermission::Deny);
    }

    #[test]
    fn describe_request_from_filter() {
        let mut f = AclFilter::topics();
        f.principal = Some("User:alice".into());
        let req = build_describe_acls(&f);
        assert_eq!(req.resource_type_filter, 2);
        assert_eq!(req.pattern_type_filter, 1);
        assert_eq!(req.resource_name_filter, None);
        assert_eq!(req.principal_filter.as_deref(), Some("User:alice"));
        assert_eq!((req.operation, req.permission_type), (1, 1));
        for v in DescribeAclsRequest::VERSIONS.min..=DescribeAclsRequest::VERSIONS.max {
            req.encode(&mut bytes::BytesMut::new(), v).expect("encodes");
        }
    }

    #[test]
    fn describe_response_flattens_bindings() {
        let mut res = DescribeAclsResource::default();
        res.resource_type = 2;
        res.resource_name = sb("orders-");
        res.pattern_type = 4;
        let mut a = AclDescription::default();
        a.principal = sb("User:alice");
        a.host = sb("*");
        a.operation = 3;
        a.permission_type = 3;
        let mut b = a.clone();
        b.operation = 4;
        b.permission_type = 2;
        res.acls = vec![a, b];
        let mut resp = DescribeAclsResponse::default();
        resp.resources = vec![res];
        let out = interpret_describe_acls(resp, "User:k").expect("ok");
        assert_eq!(out.len(), 2);
        assert_eq!(out[0], binding(PatternType::Prefixed, "orders-"));
        assert_eq!(
            (out[1].operation, out[1].permission),
            (AclOperation::Write, AclPermission::Deny)
        );
    }

    #[test]
    fn describe_without_authorizer_is_security_disabled() {
        let mut resp = DescribeAclsResponse::default();
        resp.error_code = ResponseError::SecurityDisabled.code();
        resp.error_message = Some(sb("No Authorizer is configured."));
        let e = interpret_describe_acls(resp, "User:k").expect_err("disabled");
        assert_eq!(e.code(), Some(ResponseError::SecurityDisabled));
        assert!(e.to_string().contains("describe ACLs"), "{e}");

        let mut resp = DescribeAclsResponse::default();
        resp.error_code = ResponseError::ClusterAuthorizationFailed.code();
        let e = interpret_describe_acls(resp, "User:kmirror").expect_err("denied");
        assert!(e.to_string().contains("User:kmirror"), "{e}");
    }

    #[test]
    fn create_request_and_positional_results() {
        let bindings = vec![
            binding(PatternType::Literal, "t"),
            binding(PatternType::Prefixed, "p-"),
        ];
        let req = build_create_acls(&bindings);
        assert_eq!(req.creations[1].resource_pattern_type, 4);
        assert_eq!(req.creations[0].principal.as_str(), "User:alice");
        for v in CreateAclsRequest::VERSIONS.min..=CreateAclsRequest::VERSIONS.max {
            req.encode(&mut bytes::BytesMut::new(), v).expect("encodes");
        }
        let ok = AclCreationResult::default();
        let mut bad = AclCreationResult::default();
        bad.error_code = ResponseError::InvalidRequest.code();
        bad.error_message = Some(sb("bad principal"));
        let mut resp = CreateAclsResponse::default();
        resp.results = vec![ok, bad];
        let out = interpret_create_acls(&bindings, resp, "User:k").expect("lengths match");
        assert!(out[0].1.is_ok());
        let e = out[1].1.as_ref().expect_err("bad");
        assert!(
            e.to_string().contains("p-") && e.to_string().contains("bad principal"),
            "{e}"
        );

        let short = CreateAclsResponse::default();
        assert!(interpret_create_acls(&bindings, short, "User:k").is_err());
    }
}
