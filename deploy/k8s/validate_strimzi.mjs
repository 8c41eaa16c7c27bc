// Validates Strimzi custom resources with the validators of @kubernetes-models/strimzi-kafka-operator
// (generated from Strimzi's CRDs). Strimzi publishes no CRD file to a registry we can reach, so this is
// the one schema source for them (deploy/k8s/tools.py installs the package).
//
//   node validate_strimzi.mjs NODE_MODULES_DIR < objects.json   ->  [{"kind", "name", "error"}] on stdout
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const modules = process.argv[2];
const objects = JSON.parse(readFileSync(0, "utf8"));
const problems = [];
for (const obj of objects) {
  const [group, version] = obj.apiVersion.split("/");
  const file = join(modules, "@kubernetes-models/strimzi-kafka-operator", group, version, `${obj.kind}.js`);
  const name = obj.metadata?.name ?? "?";
  let model;
  try {
    model = (await import(pathToFileURL(file).href))[obj.kind];
  } catch (err) {
    problems.push({ kind: obj.kind, name, error: `no validator for ${obj.apiVersion} ${obj.kind}: ${err.message}` });
    continue;
  }
  try {
    new model(obj).validate();
  } catch (err) {
    problems.push({ kind: obj.kind, name, error: err.message });
  }
}
process.stdout.write(JSON.stringify(problems));
