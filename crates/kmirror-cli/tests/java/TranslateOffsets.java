// MirrorMaker 2's own client API, run against the target cluster after kmirror ran: what an application that
// fails over with RemoteClusterUtils would get. Compiled by the interop tests with javac against the Kafka jars.
//
// Usage: TranslateOffsets <target bootstrap> <source alias> <group>
// Prints "hops <n>" (RemoteClusterUtils.replicationHops), one "offset <topic> <partition> <offset>" line per
// partition returned by RemoteClusterUtils.translateOffsets, then one "<kind> <name>" line per upstream cluster,
// heartbeat topic, checkpoint topic (RemoteClusterUtils) and remote topic of the source (MirrorClient).

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.connect.mirror.MirrorClient;
import org.apache.kafka.connect.mirror.RemoteClusterUtils;

public class TranslateOffsets {
    public static void main(String[] args) throws Exception {
        Map<String, Object> props = new HashMap<>();
        props.put("bootstrap.servers", args[0]);
        System.out.println("hops " + RemoteClusterUtils.replicationHops(props, args[1]));
        Map<TopicPartition, OffsetAndMetadata> offsets =
                RemoteClusterUtils.translateOffsets(props, args[1], args[2], Duration.ofSeconds(30));
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : offsets.entrySet()) {
            System.out.println("offset " + e.getKey().topic() + " " + e.getKey().partition() + " "
                    + e.getValue().offset());
        }
        for (String c : RemoteClusterUtils.upstreamClusters(props)) {
            System.out.println("upstream " + c);
        }
        for (String t : RemoteClusterUtils.heartbeatTopics(props)) {
            System.out.println("heartbeat-topic " + t);
        }
        for (String t : RemoteClusterUtils.checkpointTopics(props)) {
            System.out.println("checkpoint-topic " + t);
        }
        try (MirrorClient client = new MirrorClient(props)) {
            for (String t : client.remoteTopics(args[1])) {
                System.out.println("remote-topic " + t);
            }
        }
    }
}
