import org.apache.kafka.clients.consumer.*;
import org.apache.kafka.common.*;
var p = new java.util.Properties();
p.put("bootstrap.servers", "127.0.0.1:49092");
p.put("group.id", "golden-meta");
p.put("key.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
p.put("value.deserializer", "org.apache.kafka.common.serialization.ByteArrayDeserializer");
var c = new KafkaConsumer<byte[], byte[]>(p);
c.commitSync(java.util.Map.of(new TopicPartition("golden.orders", 0), new OffsetAndMetadata(7, "meta-ü-7"), new TopicPartition("golden.orders", 1), new OffsetAndMetadata(17, "")));
c.close();
System.out.println("committed");
/exit
