//! MM2's topic ACL sync, as a pure transformation: which source ACL bindings become which target bindings.
//!
//! Only literal TOPIC bindings on topics the flow mirrors are copied, renamed to the remote topic. Mirrored
//! topics are written only by kmirror, so ALLOW WRITE is dropped and ALLOW ALL becomes ALLOW READ; DENY
//! bindings are kept as they are. Prefixed and wildcard bindings are not copied: under a renaming policy they
//! would cover different topics than on the source.

use std::collections::BTreeSet;

use kmirror_kafka::admin::{AclBinding, AclOperation, AclPermission, PatternType, ResourceType};

use crate::config::FlowConfig;
use crate::policy::{Decision, should_replicate_topic};

/// The target binding for one source binding, or `None` when it is not copied.
pub fn target_acl(flow: &FlowConfig, binding: &AclBinding) -> Option<AclBinding> {
    if binding.resource_type != ResourceType::Topic
        || binding.pattern_type != PatternType::Literal
        || binding.resource_name == "*"
    {
        return None;
    }
    let Decision::Replicate { target_name } = should_replicate_topic(flow, &binding.resource_name)
    else {
        return None;
    };
    let operation = match (binding.permission, binding.operation) {
        (AclPermission::Allow, AclOperation::Write) => return None,
        (AclPermission::Allow, AclOperation::All) => AclOperation::Read,
        (_, op) => op,
    };
    Some(AclBinding {
        resource_type: ResourceType::Topic,
        resource_name: target_name,
        pattern_type: PatternType::Literal,
        principal: binding.principal.clone(),
        host: binding.host.clone(),
        operation,
        permission: binding.permission,
    })
}

/// Every target binding for `source` bindings, without duplicates (ALLOW ALL and ALLOW READ for the same
/// principal become one), in a stable order.
pub fn target_acls(flow: &FlowConfig, source: &[AclBinding]) -> BTreeSet<AclBinding> {
    source.iter().filter_map(|b| target_acl(flow, b)).collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::config::Config;

    fn flow(extra: &str) -> FlowConfig {
        let text = format!(
            "clusters = A, B\nA.bootstrap.servers = a:9092\nB.bootstrap.servers = b:9092\nA->B.enabled = true\n{extra}\n"
        );
        Config::from_properties_str(&text)
            .unwrap()
            .flow("A", "B")
            .unwrap()
            .clone()
    }

    fn acl(name: &str, pattern: PatternType, op: AclOperation, perm: AclPermission) -> AclBinding {
        AclBinding {
            resource_type: ResourceType::Topic,
            resource_name: name.into(),
            pattern_type: pattern,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: op,
            permission: perm,
        }
    }

    // MirrorSourceConnectorTest.testAclFiltering / testAclTransformation
    #[test]
    fn mm2_transformation() {
        use AclOperation::*;
        use AclPermission::*;
        let f = flow("");
        let lit = PatternType::Literal;
        assert_eq!(target_acl(&f, &acl("t", lit, Write, Allow)), None);
        assert_eq!(
            target_acl(&f, &acl("t", lit, All, Allow)),
            Some(acl("A.t", lit, Read, Allow))
        );
        assert_eq!(
            target_acl(&f, &acl("t", lit, Read, Allow)),
            Some(acl("A.t", lit, Read, Allow))
        );
        assert_eq!(
            target_acl(&f, &acl("t", lit, Describe, Allow)),
            Some(acl("A.t", lit, Describe, Allow))
        );
        for op in [Write, All, Read] {
            assert_eq!(
                target_acl(&f, &acl("t", lit, op, Deny)),
                Some(acl("A.t", lit, op, Deny)),
                "{op:?}"
            );
        }
    }

    #[test]
    fn only_literal_topic_bindings_of_mirrored_topics() {
        use AclOperation::*;
        use AclPermission::*;
        let f = flow("topics = orders.*");
        assert_eq!(
            target_acl(&f, &acl("orders", PatternType::Prefixed, Read, Allow)),
            None
        );
        assert_eq!(
            target_acl(&f, &acl("*", PatternType::Literal, Read, Allow)),
            None
        );
        assert_eq!(
            target_acl(&f, &acl("payments", PatternType::Literal, Read, Allow)),
            None
        );
        assert_eq!(
            target_acl(
                &f,
                &acl("__consumer_offsets", PatternType::Literal, Read, Allow)
            ),
            None
        );
        // A remote topic from the target would loop.
        assert_eq!(
            target_acl(&f, &acl("B.orders", PatternType::Literal, Read, Allow)),
            None
        );
        let mut group = acl("orders", PatternType::Literal, Read, Allow);
        group.resource_type = ResourceType::Group;
        assert_eq!(target_acl(&f, &group), None);
        assert!(target_acl(&f, &acl("orders", PatternType::Literal, Read, Allow)).is_some());
    }

    #[test]
    fn identity_keeps_names_and_all_plus_read_collapse() {
        use AclOperation::*;
        use AclPermission::*;
        let f = flow(
            "replication.policy.class = org.apache.kafka.connect.mirror.IdentityReplicationPolicy",
        );
        let lit = PatternType::Literal;
        let out = target_acls(
            &f,
            &[
                acl("t", lit, All, Allow),
                acl("t", lit, Read, Allow),
                acl("t", lit, Write, Allow),
                acl("t", lit, Write, Deny),
            ],
        );
        let want: BTreeSet<AclBinding> = [acl("t", lit, Read, Allow), acl("t", lit, Write, Deny)]
            .into_iter()
            .collect();
        assert_eq!(out, want);
    }
}
