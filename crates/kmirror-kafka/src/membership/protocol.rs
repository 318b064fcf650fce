//! The classic group protocol as pure functions: JoinGroup, SyncGroup, Heartbeat and LeaveGroup
//! requests for a given version, and what each response tells the member to do next.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::join_group_request::JoinGroupRequestProtocol;
use kafka_protocol::messages::leave_group_request::MemberIdentity;
use kafka_protocol::messages::sync_group_request::SyncGroupRequestAssignment;
use kafka_protocol::messages::{
    GroupId, HeartbeatRequest, HeartbeatResponse, JoinGroupRequest, JoinGroupResponse,
    LeaveGroupRequest, LeaveGroupResponse, SyncGroupRequest, SyncGroupResponse,
};
use kafka_protocol::protocol::StrBytes;

use super::{MemberMetadata, MembershipConfig};
use crate::error::Error;

fn sb(s: &str) -> StrBytes {
    StrBytes::from_string(s.to_string())
}

fn ms(d: Duration) -> i32 {
    i32::try_from(d.as_millis()).unwrap_or(i32::MAX)
}

fn kafka(code: ResponseError, context: String, message: Option<&StrBytes>) -> Error {
    Error::Kafka {
        code,
        context,
        message: message.map(|m| m.to_string()).filter(|m| !m.is_empty()),
    }
}

/// What to do after a JoinGroup or SyncGroup that did not complete.
#[derive(Debug, Clone)]
pub(crate) enum Retry {
    /// Join again at once with this member id (the coordinator assigned one, forgot ours, or a new
    /// rebalance started).
    Now { member_id: String },
    /// Join again after a backoff: the coordinator moved or is loading.
    Later(Error),
    /// Give up: retrying cannot help.
    Fatal(Error),
}

/// A completed JoinGroup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Joined {
    pub generation: i32,
    pub member_id: String,
    pub leader_id: String,
    /// Every member with its metadata; filled only for the leader.
    pub members: Vec<MemberMetadata>,
}

impl Joined {
    pub fn is_leader(&self) -> bool {
        self.member_id == self.leader_id
    }
}

pub(crate) fn build_join(
    config: &MembershipConfig,
    member_id: &str,
    version: i16,
) -> JoinGroupRequest {
    let mut proto = JoinGroupRequestProtocol::default();
    proto.name = sb(&config.protocol_name);
    proto.metadata = config.metadata.clone();
    let mut req = JoinGroupRequest::default();
    req.group_id = GroupId(sb(&config.group_id));
    req.session_timeout_ms = ms(config.session_timeout);
    req.rebalance_timeout_ms = ms(config.rebalance_timeout);
    req.member_id = sb(member_id);
    req.group_instance_id = None;
    req.protocol_type = sb(&config.protocol_type);
    req.protocols = vec![proto];
    if version >= 8 {
        req.reason = Some(sb("kmirror member (re)joining"));
    }
    req
}

/// Errors common to every group request: coordinator moved or loading → later; fatal otherwise.
fn coordinator_or_fatal(
    code: ResponseError,
    group: &str,
    what: &str,
    message: Option<&StrBytes>,
) -> Retry {
    let e = |context: String| kafka(code, context, message);
    match code {
        ResponseError::NotCoordinator
        | ResponseError::CoordinatorNotAvailable
        | ResponseError::CoordinatorLoadInProgress => {
            Retry::Later(e(format!("{what} group '{group}'")))
        }
        ResponseError::InconsistentGroupProtocol => Retry::Fatal(e(format!(
            "{what} group '{group}': the group is in use with another protocol type, or its members share no \
             protocol; give kmirror a group id that no consumer group or other application uses"
        ))),
        ResponseError::InvalidSessionTimeout => Retry::Fatal(e(format!(
            "{what} group '{group}': the session timeout is outside the broker's group.min.session.timeout.ms \
             ..group.max.session.timeout.ms"
        ))),
        ResponseError::GroupAuthorizationFailed => Retry::Fatal(e(format!(
            "{what} group '{group}': grant the principal READ on the group"
        ))),
        _ => Retry::Fatal(e(format!("{what} group '{group}'"))),
    }
}

pub(crate) fn interpret_join(group: &str, resp: JoinGroupResponse) -> Result<Joined, Retry> {
    match ResponseError::try_from_code(resp.error_code) {
        None => Ok(Joined {
            generation: resp.generation_id,
            member_id: resp.member_id.to_string(),
            leader_id: resp.leader.to_string(),
            members: resp
                .members
                .into_iter()
                .map(|m| MemberMetadata {
                    member_id: m.member_id.to_string(),
                    metadata: m.metadata,
                })
                .collect(),
        }),
        // KIP-394: the first join only gets a member id; join again with it.
        Some(ResponseError::MemberIdRequired) => Err(Retry::Now {
            member_id: resp.member_id.to_string(),
        }),
        // The coordinator forgot us (session expired): join as a new member.
        Some(ResponseError::UnknownMemberId) => Err(Retry::Now {
            member_id: String::new(),
        }),
        Some(ResponseError::RebalanceInProgress) => Err(Retry::Now {
            member_id: resp.member_id.to_string(),
        }),
        Some(code) => Err(coordinator_or_fatal(code, group, "join", None)),
    }
}

/// The leader's SyncGroup assignments: one entry per member (empty bytes for members the assignor
/// left out); entries for unknown member ids are dropped.
pub(crate) fn complete_assignments(
    members: &[MemberMetadata],
    mut assigned: BTreeMap<String, Bytes>,
) -> Vec<(String, Bytes)> {
    for id in assigned
        .keys()
        .filter(|id| !members.iter().any(|m| &m.member_id == *id))
    {
        tracing::warn!(member = %id, "assignor returned an assignment for a member not in the group; dropped");
    }
    members
        .iter()
        .map(|m| {
            (
                m.member_id.clone(),
                assigned.remove(&m.member_id).unwrap_or_default(),
            )
        })
        .collect()
}

pub(crate) fn build_sync(
    config: &MembershipConfig,
    joined: &Joined,
    assignments: Vec<(String, Bytes)>,
    version: i16,
) -> SyncGroupRequest {
    let mut req = SyncGroupRequest::default();
    req.group_id = GroupId(sb(&config.group_id));
    req.generation_id = joined.generation;
    req.member_id = sb(&joined.member_id);
    if version >= 5 {
        req.protocol_type = Some(sb(&config.protocol_type));
        req.protocol_name = Some(sb(&config.protocol_name));
    }
    req.assignments = assignments
        .into_iter()
        .map(|(member_id, assignment)| {
            let mut a = SyncGroupRequestAssignment::default();
            a.member_id = sb(&member_id);
            a.assignment = assignment;
            a
        })
        .collect();
    req
}

/// This member's assignment bytes, or what to do instead.
pub(crate) fn interpret_sync(
    group: &str,
    member_id: &str,
    resp: SyncGroupResponse,
) -> Result<Bytes, Retry> {
    match ResponseError::try_from_code(resp.error_code) {
        None => Ok(resp.assignment),
        // Another member joined or left between our join and sync: join again.
        Some(ResponseError::RebalanceInProgress | ResponseError::IllegalGeneration) => {
            Err(Retry::Now {
                member_id: member_id.to_string(),
            })
        }
        Some(ResponseError::UnknownMemberId) => Err(Retry::Now {
            member_id: String::new(),
        }),
        Some(code) => Err(coordinator_or_fatal(code, group, "sync with", None)),
    }
}

pub(crate) fn build_heartbeat(group: &str, generation: i32, member_id: &str) -> HeartbeatRequest {
    let mut req = HeartbeatRequest::default();
    req.group_id = GroupId(sb(group));
    req.generation_id = generation;
    req.member_id = sb(member_id);
    req
}

/// What a heartbeat answer means for the member.
#[derive(Debug, Clone)]
pub(crate) enum Beat {
    /// Still a member of the current generation.
    Alive,
    /// A rebalance started: stop work and rejoin.
    Rebalance,
    /// This member is no longer part of the generation (expired, fenced): stop work and rejoin.
    Lost(Error),
    /// The coordinator could not answer; try again (the session is still ticking).
    Retry(Error),
}

pub(crate) fn interpret_heartbeat(group: &str, resp: &HeartbeatResponse) -> Beat {
    match ResponseError::try_from_code(resp.error_code) {
        None => Beat::Alive,
        Some(ResponseError::RebalanceInProgress) => Beat::Rebalance,
        Some(
            code @ (ResponseError::UnknownMemberId
            | ResponseError::IllegalGeneration
            | ResponseError::FencedInstanceId),
        ) => Beat::Lost(kafka(
            code,
            format!(
                "heartbeat to group '{group}': this member is no longer in the current generation"
            ),
            None,
        )),
        Some(code) => match coordinator_or_fatal(code, group, "heartbeat to", None) {
            Retry::Later(e) => Beat::Retry(e),
            Retry::Fatal(e) => Beat::Lost(e),
            Retry::Now { .. } => Beat::Rebalance,
        },
    }
}

pub(crate) fn build_leave(group: &str, member_id: &str, version: i16) -> LeaveGroupRequest {
    let mut req = LeaveGroupRequest::default();
    req.group_id = GroupId(sb(group));
    if version >= 3 {
        let mut m = MemberIdentity::default();
        m.member_id = sb(member_id);
        if version >= 5 {
            m.reason = Some(sb("kmirror member shutting down"));
        }
        req.members = vec![m];
    } else {
        req.member_id = sb(member_id);
    }
    req
}

/// Ok when we are out of the group (including when the coordinator had already forgotten us).
pub(crate) fn interpret_leave(group: &str, resp: &LeaveGroupResponse) -> Result<(), Error> {
    let codes = std::iter::once(resp.error_code).chain(resp.members.iter().map(|m| m.error_code));
    for code in codes {
        match ResponseError::try_from_code(code) {
            None | Some(ResponseError::UnknownMemberId) => {}
            Some(code) => return Err(kafka(code, format!("leave group '{group}'"), None)),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::join_group_response::JoinGroupResponseMember;
    use kafka_protocol::messages::leave_group_response::MemberResponse;
    use kafka_protocol::protocol::{Encodable, Message};

    use super::*;

    fn config() -> MembershipConfig {
        MembershipConfig::new("g", Bytes::from_static(b"meta"))
    }

    fn encodes<M: Encodable + Message>(m: &M, v: i16) {
        m.encode(&mut bytes::BytesMut::new(), v)
            .unwrap_or_else(|e| panic!("encoding at v{v}: {e}"));
    }

    #[test]
    fn join_request_at_every_version() {
        for v in JoinGroupRequest::VERSIONS.min..=JoinGroupRequest::VERSIONS.max {
            let req = build_join(&config(), "m-1", v);
            encodes(&req, v);
            assert_eq!(req.protocol_type.as_str(), "kmirror");
            assert_eq!(req.protocols[0].name.as_str(), "kmirror-v1");
            assert_eq!(req.protocols[0].metadata.as_ref(), b"meta");
            assert_eq!(req.member_id.as_str(), "m-1");
            assert_eq!(req.reason.is_some(), v >= 8);
        }
        let req = build_join(&config(), "", 9);
        assert_eq!(req.session_timeout_ms, 30_000);
        assert_eq!(req.rebalance_timeout_ms, 60_000);
    }

    fn join_resp(
        code: ResponseError,
        member: &str,
        leader: &str,
        members: &[&str],
    ) -> JoinGroupResponse {
        let mut r = JoinGroupResponse::default();
        r.error_code = if code == ResponseError::UnknownServerError {
            0
        } else {
            code.code()
        };
        r.generation_id = 7;
        r.member_id = sb(member);
        r.leader = sb(leader);
        r.members = members
            .iter()
            .map(|m| {
                let mut x = JoinGroupResponseMember::default();
                x.member_id = sb(m);
                x.metadata = Bytes::from(format!("md-{m}"));
                x
            })
            .collect();
        r
    }

    const OK: ResponseError = ResponseError::UnknownServerError; // stands for "no error" in these helpers

    #[test]
    fn join_success_leader_and_follower() {
        let j = interpret_join("g", join_resp(OK, "a", "a", &["a", "b"])).expect("joined");
        assert!(j.is_leader());
        assert_eq!(j.generation, 7);
        assert_eq!(j.members[1].metadata.as_ref(), b"md-b");
        let j = interpret_join("g", join_resp(OK, "b", "a", &[])).expect("joined");
        assert!(!j.is_leader());
        assert!(j.members.is_empty());
    }

    #[test]
    fn join_retries_and_failures() {
        match interpret_join(
            "g",
            join_resp(ResponseError::MemberIdRequired, "new-id", "", &[]),
        ) {
            Err(Retry::Now { member_id }) => assert_eq!(member_id, "new-id"),
            other => panic!("{other:?}"),
        }
        match interpret_join(
            "g",
            join_resp(ResponseError::UnknownMemberId, "old", "", &[]),
        ) {
            Err(Retry::Now { member_id }) => assert!(member_id.is_empty()),
            other => panic!("{other:?}"),
        }
        match interpret_join(
            "g",
            join_resp(ResponseError::RebalanceInProgress, "m", "", &[]),
        ) {
            Err(Retry::Now { member_id }) => assert_eq!(member_id, "m"),
            other => panic!("{other:?}"),
        }
        for code in [
            ResponseError::NotCoordinator,
            ResponseError::CoordinatorNotAvailable,
            ResponseError::CoordinatorLoadInProgress,
        ] {
            match interpret_join("g", join_resp(code, "", "", &[])) {
                Err(Retry::Later(e)) => assert!(e.to_string().contains("'g'"), "{e}"),
                other => panic!("{code:?}: {other:?}"),
            }
        }
        for (code, needle) in [
            (
                ResponseError::InconsistentGroupProtocol,
                "group id that no consumer group",
            ),
            (
                ResponseError::InvalidSessionTimeout,
                "group.min.session.timeout.ms",
            ),
            (ResponseError::GroupAuthorizationFailed, "READ on the group"),
            (ResponseError::GroupMaxSizeReached, "join group 'g'"),
        ] {
            match interpret_join("g", join_resp(code, "", "", &[])) {
                Err(Retry::Fatal(e)) => assert!(e.to_string().contains(needle), "{e}"),
                other => panic!("{code:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn assignments_cover_every_member() {
        let members: Vec<MemberMetadata> = ["a", "b", "c"]
            .iter()
            .map(|m| MemberMetadata {
                member_id: m.to_string(),
                metadata: Bytes::new(),
            })
            .collect();
        let mut out = BTreeMap::new();
        out.insert("a".to_string(), Bytes::from_static(b"1"));
        out.insert("c".to_string(), Bytes::from_static(b"3"));
        out.insert("zombie".to_string(), Bytes::from_static(b"x"));
        let full = complete_assignments(&members, out);
        let got: Vec<(&str, &[u8])> = full.iter().map(|(m, b)| (m.as_str(), b.as_ref())).collect();
        assert_eq!(
            got,
            vec![("a", &b"1"[..]), ("b", &b""[..]), ("c", &b"3"[..])]
        );
    }

    #[test]
    fn sync_request_at_every_version() {
        let j = Joined {
            generation: 3,
            member_id: "a".into(),
            leader_id: "a".into(),
            members: vec![],
        };
        for v in SyncGroupRequest::VERSIONS.min..=SyncGroupRequest::VERSIONS.max {
            let req = build_sync(
                &config(),
                &j,
                vec![("a".into(), Bytes::from_static(b"x"))],
                v,
            );
            encodes(&req, v);
            assert_eq!(req.generation_id, 3);
            assert_eq!(req.protocol_type.is_some(), v >= 5);
            assert_eq!(req.assignments[0].assignment.as_ref(), b"x");
        }
    }

    #[test]
    fn sync_outcomes() {
        let mut r = SyncGroupResponse::default();
        r.assignment = Bytes::from_static(b"mine");
        assert_eq!(
            interpret_sync("g", "a", r.clone()).expect("ok").as_ref(),
            b"mine"
        );
        for code in [
            ResponseError::RebalanceInProgress,
            ResponseError::IllegalGeneration,
        ] {
            r.error_code = code.code();
            assert!(
                matches!(interpret_sync("g", "a", r.clone()), Err(Retry::Now { member_id }) if member_id == "a")
            );
        }
        r.error_code = ResponseError::UnknownMemberId.code();
        assert!(
            matches!(interpret_sync("g", "a", r.clone()), Err(Retry::Now { member_id }) if member_id.is_empty())
        );
        r.error_code = ResponseError::NotCoordinator.code();
        assert!(matches!(
            interpret_sync("g", "a", r.clone()),
            Err(Retry::Later(_))
        ));
        r.error_code = ResponseError::GroupAuthorizationFailed.code();
        assert!(matches!(interpret_sync("g", "a", r), Err(Retry::Fatal(_))));
    }

    #[test]
    fn heartbeat_outcomes() {
        let req = build_heartbeat("g", 4, "a");
        for v in HeartbeatRequest::VERSIONS.min..=HeartbeatRequest::VERSIONS.max {
            encodes(&req, v);
        }
        let mut r = HeartbeatResponse::default();
        assert!(matches!(interpret_heartbeat("g", &r), Beat::Alive));
        r.error_code = ResponseError::RebalanceInProgress.code();
        assert!(matches!(interpret_heartbeat("g", &r), Beat::Rebalance));
        for code in [
            ResponseError::UnknownMemberId,
            ResponseError::IllegalGeneration,
            ResponseError::FencedInstanceId,
            ResponseError::GroupAuthorizationFailed,
        ] {
            r.error_code = code.code();
            assert!(
                matches!(interpret_heartbeat("g", &r), Beat::Lost(_)),
                "{code:?}"
            );
        }
        for code in [
            ResponseError::NotCoordinator,
            ResponseError::CoordinatorLoadInProgress,
        ] {
            r.error_code = code.code();
            assert!(
                matches!(interpret_heartbeat("g", &r), Beat::Retry(_)),
                "{code:?}"
            );
        }
    }

    #[test]
    fn leave_request_and_outcomes() {
        for v in LeaveGroupRequest::VERSIONS.min..=LeaveGroupRequest::VERSIONS.max {
            let req = build_leave("g", "a", v);
            encodes(&req, v);
            if v >= 3 {
                assert_eq!(req.members[0].member_id.as_str(), "a");
                assert_eq!(req.members[0].reason.is_some(), v >= 5);
            } else {
                assert_eq!(req.member_id.as_str(), "a");
            }
        }
        let mut r = LeaveGroupResponse::default();
        assert!(interpret_leave("g", &r).is_ok());
        let mut m = MemberResponse::default();
        m.error_code = ResponseError::UnknownMemberId.code();
        r.members = vec![m.clone()];
        assert!(interpret_leave("g", &r).is_ok(), "already gone is fine");
        m.error_code = ResponseError::GroupAuthorizationFailed.code();
        r.members = vec![m];
        assert!(interpret_leave("g", &r).is_err());
        let mut r = LeaveGroupResponse::default();
        r.error_code = ResponseError::NotCoordinator.code();
        assert!(interpret_leave("g", &r).expect_err("moved").is_retriable());
    }
}
