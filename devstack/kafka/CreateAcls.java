// Creates ACLs on a broker through the Admin API and waits until the broker's authorizer serves them all;
// aiokafka has no ACL API. Run from source by devstack.kafka.create_acls, in one JVM, with the broker's jars:
//
//     java -cp '.run/kafka/lib/*' devstack/kafka/CreateAcls.java BOOTSTRAP < bindings
//
// One binding a line, tab-separated: principal, resource type, pattern type, resource name, operation, all
// allowed from any host (e.g. "User:intent  TOPIC  LITERAL  zalo.events.v1  READ"). Enum names as in Java.

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourceType;

public class CreateAcls {
    public static void main(String[] args) throws Exception {
        List<AclBinding> bindings = new ArrayList<>();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        for (String line = in.readLine(); line != null; line = in.readLine()) {
            if (line.isBlank()) {
                continue;
            }
            String[] f = line.split("\t");
            ResourcePattern resource =
                    new ResourcePattern(ResourceType.valueOf(f[1]), f[3], PatternType.valueOf(f[2]));
            AccessControlEntry entry =
                    new AccessControlEntry(f[0], "*", AclOperation.valueOf(f[4]), AclPermissionType.ALLOW);
            bindings.add(new AclBinding(resource, entry));
        }
        Properties props = new Properties();
        props.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args[0]);
        try (Admin admin = Admin.create(props)) {
            admin.createAcls(bindings).all().get();
            // The controller has them; describeAcls answers from the broker's authorizer, which applies them
            // from the metadata log a moment later.
            long deadline = System.currentTimeMillis() + 30_000;
            while (admin.describeAcls(AclBindingFilter.ANY).values().get().size() < bindings.size()) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("the broker's authorizer did not get every ACL in 30 s");
                }
                Thread.sleep(20);
            }
        }
        System.out.println("created " + bindings.size() + " ACLs");
    }
}
