//! Every request/response pair of the Kafka protocol, typed. Generated from the `kafka-protocol` crate's
//! message list (its own `Request` trait needs its `broker` feature, which we do not build).

use kafka_protocol::messages::*;
use kafka_protocol::protocol::{Decodable, Encodable, HeaderVersion, Message};

/// A request this client can send: its API key, a name for messages, and its response type.
pub trait KafkaRequest: Message + Encodable + HeaderVersion + Send + Sync {
    const KEY: i16;
    /// The API name as Kafka spells it (`Fetch`, `CreateTopics`), for errors and logs.
    const NAME: &'static str;
    type Response: KafkaResponse;
}

/// A decodable response that may ask the client to slow down (KIP-219 `throttle_time_ms`).
pub trait KafkaResponse: Message + Decodable + HeaderVersion + Send + 'static {
    /// Milliseconds the broker asks us not to send it anything; 0 for responses without the field.
    fn throttle_time_ms(&self) -> i32;
}

macro_rules! api {
    ($($req:ident => $resp:ident, $key:literal, $name:literal, $throttle:tt;)*) => {$(
        impl KafkaRequest for $req {
            const KEY: i16 = $key;
            const NAME: &'static str = $name;
            type Response = $resp;
        }
        impl KafkaResponse for $resp {
            fn throttle_time_ms(&self) -> i32 {
                api!(@throttle self $throttle)
            }
        }
    )*};
    (@throttle $s:ident yes) => { $s.throttle_time_ms };
    (@throttle $s:ident no) => { 0 };
}

api! {
    ProduceRequest => ProduceResponse, 0, "Produce", yes;
    FetchRequest => FetchResponse, 1, "Fetch", yes;
    ListOffsetsRequest => ListOffsetsResponse, 2, "ListOffsets", yes;
    MetadataRequest => MetadataResponse, 3, "Metadata", yes;
    OffsetCommitRequest => OffsetCommitResponse, 8, "OffsetCommit", yes;
    OffsetFetchRequest => OffsetFetchResponse, 9, "OffsetFetch", yes;
    FindCoordinatorRequest => FindCoordinatorResponse, 10, "FindCoordinator", yes;
    JoinGroupRequest => JoinGroupResponse, 11, "JoinGroup", yes;
    HeartbeatRequest => HeartbeatResponse, 12, "Heartbeat", yes;
    LeaveGroupRequest => LeaveGroupResponse, 13, "LeaveGroup", yes;
    SyncGroupRequest => SyncGroupResponse, 14, "SyncGroup", yes;
    DescribeGroupsRequest => DescribeGroupsResponse, 15, "DescribeGroups", yes;
    ListGroupsRequest => ListGroupsResponse, 16, "ListGroups", yes;
    SaslHandshakeRequest => SaslHandshakeResponse, 17, "SaslHandshake", no;
    ApiVersionsRequest => ApiVersionsResponse, 18, "ApiVersions", yes;
    CreateTopicsRequest => CreateTopicsResponse, 19, "CreateTopics", yes;
    DeleteTopicsRequest => DeleteTopicsResponse, 20, "DeleteTopics", yes;
    DeleteRecordsRequest => DeleteRecordsResponse, 21, "DeleteRecords", yes;
    InitProducerIdRequest => InitProducerIdResponse, 22, "InitProducerId", yes;
    OffsetForLeaderEpochRequest => OffsetForLeaderEpochResponse, 23, "OffsetForLeaderEpoch", yes;
    AddPartitionsToTxnRequest => AddPartitionsToTxnResponse, 24, "AddPartitionsToTxn", yes;
    AddOffsetsToTxnRequest => AddOffsetsToTxnResponse, 25, "AddOffsetsToTxn", yes;
    EndTxnRequest => EndTxnResponse, 26, "EndTxn", yes;
    WriteTxnMarkersRequest => WriteTxnMarkersResponse, 27, "WriteTxnMarkers", no;
    TxnOffsetCommitRequest => TxnOffsetCommitResponse, 28, "TxnOffsetCommit", yes;
    DescribeAclsRequest => DescribeAclsResponse, 29, "DescribeAcls", yes;
    CreateAclsRequest => CreateAclsResponse, 30, "CreateAcls", yes;
    DeleteAclsRequest => DeleteAclsResponse, 31, "DeleteAcls", yes;
    DescribeConfigsRequest => DescribeConfigsResponse, 32, "DescribeConfigs", yes;
    AlterConfigsRequest => AlterConfigsResponse, 33, "AlterConfigs", yes;
    AlterReplicaLogDirsRequest => AlterReplicaLogDirsResponse, 34, "AlterReplicaLogDirs", yes;
    DescribeLogDirsRequest => DescribeLogDirsResponse, 35, "DescribeLogDirs", yes;
    SaslAuthenticateRequest => SaslAuthenticateResponse, 36, "SaslAuthenticate", no;
    CreatePartitionsRequest => CreatePartitionsResponse, 37, "CreatePartitions", yes;
    CreateDelegationTokenRequest => CreateDelegationTokenResponse, 38, "CreateDelegationToken", yes;
    RenewDelegationTokenRequest => RenewDelegationTokenResponse, 39, "RenewDelegationToken", yes;
    ExpireDelegationTokenRequest => ExpireDelegationTokenResponse, 40, "ExpireDelegationToken", yes;
    DescribeDelegationTokenRequest => DescribeDelegationTokenResponse, 41, "DescribeDelegationToken", yes;
    DeleteGroupsRequest => DeleteGroupsResponse, 42, "DeleteGroups", yes;
    ElectLeadersRequest => ElectLeadersResponse, 43, "ElectLeaders", yes;
    IncrementalAlterConfigsRequest => IncrementalAlterConfigsResponse, 44, "IncrementalAlterConfigs", yes;
    AlterPartitionReassignmentsRequest => AlterPartitionReassignmentsResponse, 45, "AlterPartitionReassignments", yes;
    ListPartitionReassignmentsRequest => ListPartitionReassignmentsResponse, 46, "ListPartitionReassignments", yes;
    OffsetDeleteRequest => OffsetDeleteResponse, 47, "OffsetDelete", yes;
    DescribeClientQuotasRequest => DescribeClientQuotasResponse, 48, "DescribeClientQuotas", yes;
    AlterClientQuotasRequest => AlterClientQuotasResponse, 49, "AlterClientQuotas", yes;
    DescribeUserScramCredentialsRequest => DescribeUserScramCredentialsResponse, 50, "DescribeUserScramCredentials", yes;
    AlterUserScramCredentialsRequest => AlterUserScramCredentialsResponse, 51, "AlterUserScramCredentials", yes;
    VoteRequest => VoteResponse, 52, "Vote", no;
    BeginQuorumEpochRequest => BeginQuorumEpochResponse, 53, "BeginQuorumEpoch", no;
    EndQuorumEpochRequest => EndQuorumEpochResponse, 54, "EndQuorumEpoch", no;
    DescribeQuorumRequest => DescribeQuorumResponse, 55, "DescribeQuorum", no;
    AlterPartitionRequest => AlterPartitionResponse, 56, "AlterPartition", yes;
    UpdateFeaturesRequest => UpdateFeaturesResponse, 57, "UpdateFeatures", yes;
    EnvelopeRequest => EnvelopeResponse, 58, "Envelope", no;
    FetchSnapshotRequest => FetchSnapshotResponse, 59, "FetchSnapshot", yes;
    DescribeClusterRequest => DescribeClusterResponse, 60, "DescribeCluster", yes;
    DescribeProducersRequest => DescribeProducersResponse, 61, "DescribeProducers", yes;
    BrokerRegistrationRequest => BrokerRegistrationResponse, 62, "BrokerRegistration", yes;
    BrokerHeartbeatRequest => BrokerHeartbeatResponse, 63, "BrokerHeartbeat", yes;
    UnregisterBrokerRequest => UnregisterBrokerResponse, 64, "UnregisterBroker", yes;
    DescribeTransactionsRequest => DescribeTransactionsResponse, 65, "DescribeTransactions", yes;
    ListTransactionsRequest => ListTransactionsResponse, 66, "ListTransactions", yes;
    AllocateProducerIdsRequest => AllocateProducerIdsResponse, 67, "AllocateProducerIds", yes;
    ConsumerGroupHeartbeatRequest => ConsumerGroupHeartbeatResponse, 68, "ConsumerGroupHeartbeat", yes;
    ConsumerGroupDescribeRequest => ConsumerGroupDescribeResponse, 69, "ConsumerGroupDescribe", yes;
    ControllerRegistrationRequest => ControllerRegistrationResponse, 70, "ControllerRegistration", yes;
    GetTelemetrySubscriptionsRequest => GetTelemetrySubscriptionsResponse, 71, "GetTelemetrySubscriptions", yes;
    PushTelemetryRequest => PushTelemetryResponse, 72, "PushTelemetry", yes;
    AssignReplicasToDirsRequest => AssignReplicasToDirsResponse, 73, "AssignReplicasToDirs", yes;
    ListConfigResourcesRequest => ListConfigResourcesResponse, 74, "ListConfigResources", yes;
    DescribeTopicPartitionsRequest => DescribeTopicPartitionsResponse, 75, "DescribeTopicPartitions", yes;
    ShareGroupHeartbeatRequest => ShareGroupHeartbeatResponse, 76, "ShareGroupHeartbeat", yes;
    ShareGroupDescribeRequest => ShareGroupDescribeResponse, 77, "ShareGroupDescribe", yes;
    ShareFetchRequest => ShareFetchResponse, 78, "ShareFetch", yes;
    ShareAcknowledgeRequest => ShareAcknowledgeResponse, 79, "ShareAcknowledge", yes;
    AddRaftVoterRequest => AddRaftVoterResponse, 80, "AddRaftVoter", yes;
    RemoveRaftVoterRequest => RemoveRaftVoterResponse, 81, "RemoveRaftVoter", yes;
    UpdateRaftVoterRequest => UpdateRaftVoterResponse, 82, "UpdateRaftVoter", yes;
    InitializeShareGroupStateRequest => InitializeShareGroupStateResponse, 83, "InitializeShareGroupState", no;
    ReadShareGroupStateRequest => ReadShareGroupStateResponse, 84, "ReadShareGroupState", no;
    WriteShareGroupStateRequest => WriteShareGroupStateResponse, 85, "WriteShareGroupState", no;
    DeleteShareGroupStateRequest => DeleteShareGroupStateResponse, 86, "DeleteShareGroupState", no;
    ReadShareGroupStateSummaryRequest => ReadShareGroupStateSummaryResponse, 87, "ReadShareGroupStateSummary", no;
    DescribeShareGroupOffsetsRequest => DescribeShareGroupOffsetsResponse, 90, "DescribeShareGroupOffsets", yes;
    AlterShareGroupOffsetsRequest => AlterShareGroupOffsetsResponse, 91, "AlterShareGroupOffsets", yes;
    DeleteShareGroupOffsetsRequest => DeleteShareGroupOffsetsResponse, 92, "DeleteShareGroupOffsets", yes;
}
