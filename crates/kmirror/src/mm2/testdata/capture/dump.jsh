import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.*;
String hex(byte[] b) { if (b == null) return "null"; var sb = new StringBuilder(); for (byte x : b) sb.append(String.format("%02x", x)); return sb.toString(); }
void dump(String bootstrap, String topic, String cluster) {
  var p = new java.util.Properties();
  p.put("bootstrap.servers", bootstrap);
  p.put("key.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
  p.put("value.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
  try (var c = new KafkaConsumer<byte[], byte[]>(p)) {
    var tp = new TopicPartition(topic, 0);
    c.assign(java.util.List.of(tp));
    c.seekToBeginning(java.util.List.of(tp));
    long end = c.endOffsets(java.util.List.of(tp)).get(tp);
    while (c.position(tp) < end) {
      for (var r : c.poll(java.time.Duration.ofSeconds(2))) {
        System.out.println(cluster + " " + topic + " " + r.partition() + " " + r.offset() + " " + r.timestamp() + " " + hex(r.key()) + " " + hex(r.value()));
      }
    }
  }
}
dump("127.0.0.1:49092", "heartbeats", "A");
dump("127.0.0.1:49192", "heartbeats", "B");
dump("127.0.0.1:49192", "A.heartbeats", "B");
dump("127.0.0.1:49092", "mm2-offset-syncs.B.internal", "A");
dump("127.0.0.1:49192", "A.checkpoints.internal", "B");
/exit
