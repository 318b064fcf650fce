//! ListGroups (asked of every broker, each lists the groups it coordinates) and DescribeGroups (asked of
//! each group's coordinator). Offset sync needs the state: only EMPTY or absent groups may be written.

use std::fmt;

use bytes::Bytes;
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    DescribeGroupsRequest, DescribeGroupsResponse, GroupId, ListGroupsRequest, ListGroupsResponse,
};

use super::failure::{check, missing, sb, st};
use crate::error::Error;

/// A group's state as the coordinator names it. Classic groups go Empty → PreparingRebalance →
/// CompletingRebalance → Stable; KIP-848 consumer groups use Assigning/Reconciling instead.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum GroupState {
    Empty,
    Stable,
    PreparingRebalance,
    CompletingRebalance,
    Assigning,
    Reconciling,
    /// Gone, or never existed.
    Dead,
    Unknown(String),
}

impl GroupState {
    pub fn parse(s: &str) -> Self {
        match s {
            "Empty" => GroupState::Empty,
            "Stable" => GroupState::Stable,
            "PreparingRebalance" => GroupState::PreparingRebalance,
            "CompletingRebalance" => GroupState::CompletingRebalance,
            "Assigning" => GroupState::Assigning,
            "Reconciling" => GroupState::Reconciling,
            "Dead" => GroupState::Dead,
            other => GroupState::Unknown(other.to_string()),
        }
    }

    /// True when nobody is a member, so offsets may be committed from outside the group.
    pub fn is_empty_or_dead(&self) -> bool {
        matches!(self, GroupState::Empty | GroupState::Dead)
    }
}

impl fmt::Display for GroupState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GroupState::Unknown(s) => f.write_str(s),
            other => write!(f, "{other:?}"),
        }
    }
}

/// One group from ListGroups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedGroup {
    pub group_id: String,
    /// `consumer` for consumer groups, `connect` for Connect, empty for offsets-only groups.
    pub protocol_type: String,
    /// `None` from brokers older than ListGroups v4.
    pub state: Option<GroupState>,
    /// `classic`, `consumer`, `share`...; `None` before ListGroups v5.
    pub group_type: Option<String>,
    /// The broker that coordinates it (and answered).
    pub coordinator: i32,
}

pub(crate) fn build_list_groups() -> ListGroupsRequest {
    ListGroupsRequest::default()
}

/// Groups `broker` coordinates. A broker still loading its groups answers
/// `ResponseError::CoordinatorLoadInProgress` (retriable): a partial list must not be mistaken for the truth.
pub(crate) fn interpret_list_groups(
    broker: i32,
    version: i16,
    resp: ListGroupsResponse,
    principal: &str,
) -> Result<Vec<ListedGroup>, Error> {
    check(resp.error_code, None, principal, || {
        format!("list groups on broker {broker}")
    })?;
    Ok(resp
        .groups
        .into_iter()
        .map(|g| ListedGroup {
            group_id: st(&g.group_id.0),
            protocol_type: st(&g.protocol_type),
            state: (version >= 4).then(|| GroupState::parse(g.group_state.as_str())),
            group_type: (version >= 5).then(|| st(&g.group_type)),
            coordinator: broker,
        })
        .collect())
}

/// One member of a described group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMember {
    pub member_id: String,
    pub group_instance_id: Option<String>,
    pub client_id: String,
    pub client_host: String,
    /// Protocol-specific (for `consumer`: the subscription).
    pub metadata: Bytes,
    /// Protocol-specific (for `consumer`: the assigned partitions).
    pub assignment: Bytes,
}

/// A group as its coordinator describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupDescription {
    pub group_id: String,
    pub state: GroupState,
    pub protocol_type: String,
    /// The chosen protocol (assignor name) when the group is stable.
    pub protocol: String,
    pub members: Vec<GroupMember>,
}

pub(crate) fn build_describe_groups(groups: &[String]) -> DescribeGroupsRequest {
    let mut req = DescribeGroupsRequest::default();
    req.groups = groups.iter().map(|g| GroupId(sb(g))).collect();
    req
}

/// Per group, in request order. A group that does not exist is reported as [`GroupState::Dead`] with no
/// members (brokers say so either with state `Dead` or, from DescribeGroups v6, `GROUP_ID_NOT_FOUND`).
pub(crate) fn interpret_describe_groups(
    requested: &[String],
    resp: DescribeGroupsResponse,
    principal: &str,
) -> Vec<(String, Result<GroupDescription, Error>)> {
    let mut by_id: std::collections::BTreeMap<String, _> = resp
        .groups
        .into_iter()
        .map(|g| (st(&g.group_id.0), g))
        .collect();
    requested
        .iter()
        .map(|id| {
            let result = match by_id.remove(id) {
                None => Err(missing("DescribeGroups", format!("group '{id}'"))),
                Some(g) if g.error_code == ResponseError::GroupIdNotFound.code() => {
                    Ok(GroupDescription {
                        group_id: id.clone(),
                        state: GroupState::Dead,
                        protocol_type: String::new(),
                        protocol: String::new(),
                        members: Vec::new(),
                    })
                }
                Some(g) => check(g.error_code, g.error_message.as_ref(), principal, || {
                    format!("describe group '{id}'")
                })
                .map(|()| GroupDescription {
                    group_id: id.clone(),
                    state: GroupState::parse(g.group_state.as_str()),
                    protocol_type: st(&g.protocol_type),
                    protocol: st(&g.protocol_data),
                    members: g
                        .members
                        .into_iter()
                        .map(|m| GroupMember {
                            member_id: st(&m.member_id),
                            group_instance_id: m.group_instance_id.as_ref().map(st),
                            client_id: st(&m.client_id),
                            client_host: st(&m.client_host),
                            metadata: m.member_metadata,
                            assignment: m.member_assignment,
                        })
                        .collect(),
                }),
            };
            (id.clone(), result)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use kafka_protocol::messages::describe_groups_response::{
        DescribedGroup, DescribedGroupMember,
    };
    use kafka_protocol::messages::list_groups_response::ListedGroup as WireGroup;
    use kafka_protocol::protocol::{Encodable, Message};

    use super::*;

    fn wire(id: &str, ptype: &str, state: &str) -> WireGroup {
        let mut g = WireGroup::default();
        g.group_id = GroupId(sb(id));
        g.protocol_type = sb(ptype);
        g.group_state = sb(state);
        g.group_type = sb("classic");
        g
    }

    #[test]
    fn list_groups_request_encodes_at_every_version() {
        let req = build_list_groups();
        for v in ListGroupsRequest::VERSIONS.min..=ListGroupsRequest::VERSIONS.max {
            req.encode(&mut bytes::BytesMut::new(), v).expect("encodes");
        }
    }

    #[test]
    fn list_groups_states_depend_on_version() {
        let mut resp = ListGroupsResponse::default();
        resp.groups = vec![wire("g1", "consumer", "Stable"), wire("g2", "", "Empty")];
        let out = interpret_list_groups(1, 5, resp.clone(), "User:k").expect("ok");
        assert_eq!(out[0].state, Some(GroupState::Stable));
        assert_eq!(out[0].protocol_type, "consumer");
        assert_eq!(out[0].group_type.as_deref(), Some("classic"));
        assert_eq!(out[1].state, Some(GroupState::Empty));
        assert_eq!(out[1].coordinator, 1);
        let old = interpret_list_groups(1, 3, resp, "User:k").expect("ok");
        assert_eq!(
            (old[0].state.clone(), old[0].group_type.clone()),
            (None, None)
        );
    }

    #[test]
    fn list_groups_errors() {
        let mut resp = ListGroupsResponse::default();
        resp.error_code = ResponseError::CoordinatorLoadInProgress.code();
        let e = interpret_list_groups(2, 5, resp, "User:k").expect_err("loading");
        assert!(e.is_retriable());
        assert!(e.to_string().contains("broker 2"), "{e}");
    }

    #[test]
    fn group_states_parse() {
        for s in [
            "Empty",
            "Stable",
            "PreparingRebalance",
            "CompletingRebalance",
            "Assigning",
            "Reconciling",
            "Dead",
        ] {
            let st = GroupState::parse(s);
            assert!(!matches!(st, GroupState::Unknown(_)), "{s}");
            assert_eq!(st.to_string(), s);
        }
        assert_eq!(
            GroupState::parse("Weird"),
            GroupState::Unknown("Weird".into())
        );
        assert!(GroupState::Empty.is_empty_or_dead() && GroupState::Dead.is_empty_or_dead());
        assert!(!GroupState::Stable.is_empty_or_dead());
    }

    #[test]
    fn describe_groups_members_missing_and_errors() {
        let ids: Vec<String> = ["active", "nothere", "denied", "dead", "absent"]
            .map(String::from)
            .to_vec();
        let req = build_describe_groups(&ids);
        for v in DescribeGroupsRequest::VERSIONS.min..=DescribeGroupsRequest::VERSIONS.max {
            req.encode(&mut bytes::BytesMut::new(), v).expect("encodes");
        }
        let mut active = DescribedGroup::default();
        active.group_id = GroupId(sb("active"));
        active.group_state = sb("Stable");
        active.protocol_type = sb("consumer");
        active.protocol_data = sb("range");
        let mut m = DescribedGroupMember::default();
        m.member_id = sb("m-1");
        m.client_id = sb("console-consumer");
        m.client_host = sb("/127.0.0.1");
        m.member_assignment = Bytes::from_static(b"\x00\x01");
        active.members = vec![m];
        let mut nothere = DescribedGroup::default();
        nothere.group_id = GroupId(sb("nothere"));
        nothere.error_code = ResponseError::GroupIdNotFound.code();
        let mut denied = DescribedGroup::default();
        denied.group_id = GroupId(sb("denied"));
        denied.error_code = ResponseError::GroupAuthorizationFailed.code();
        let mut dead = DescribedGroup::default();
        dead.group_id = GroupId(sb("dead"));
        dead.group_state = sb("Dead");
        let mut resp = DescribeGroupsResponse::default();
        resp.groups = vec![dead, denied, nothere, active];

        let out = interpret_describe_groups(&ids, resp, "User:kmirror");
        let a = out[0].1.as_ref().expect("active");
        assert_eq!(a.state, GroupState::Stable);
        assert_eq!(
            (a.protocol_type.as_str(), a.protocol.as_str()),
            ("consumer", "range")
        );
        assert_eq!(a.members[0].client_id, "console-consumer");
        assert_eq!(a.members[0].assignment.as_ref(), b"\x00\x01");
        assert_eq!(
            out[1].1.as_ref().expect("not found is dead").state,
            GroupState::Dead
        );
        let e = out[2].1.as_ref().expect_err("denied");
        assert!(
            e.to_string().contains("group 'denied'") && e.to_string().contains("User:kmirror"),
            "{e}"
        );
        assert_eq!(out[3].1.as_ref().expect("dead").state, GroupState::Dead);
        assert!(out[4].1.is_err());
    }
}
