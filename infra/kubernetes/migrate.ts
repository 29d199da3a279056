import * as k8s from "@pulumi/kubernetes";
import * as pulumi from "@pulumi/pulumi";
import type { KubeNames } from "./names.js";
import { APP_UID, labels } from "./pod.js";

// `oose migrate up` as a Job with the app image and the first prism's env,
// after CouchDB is set up and Redis is up. The provider awaits its completion
// and fails the update when it fails; prisms and stores depend on it, so an
// upgrade migrates before any of them rolls out. Its name is generated, so a
// new image replaces it (a Job's template cannot change) and it runs again.

export interface KubeMigrateArgs {
  names: KubeNames;
  prefix: string;
  image: string;
  env: k8s.types.input.core.v1.EnvVar[];
  imagePullSecrets: { name: string }[];
  dependsOn: pulumi.Resource[];
}

export class KubeMigrate extends pulumi.ComponentResource {
  readonly job: k8s.batch.v1.Job;

  constructor(name: string, a: KubeMigrateArgs, opts: pulumi.ComponentResourceOptions) {
    super("oose:kubernetes:Migrate", name, {}, opts);
    this.job = new k8s.batch.v1.Job(
      `${name}-job`,
      {
        metadata: { namespace: a.names.namespace, labels: labels(a.prefix, "migrate") },
        spec: {
          backoffLimit: 2,
          template: {
            metadata: { labels: labels(a.prefix, "migrate") },
            spec: {
              restartPolicy: "Never",
              automountServiceAccountToken: false,
              imagePullSecrets: a.imagePullSecrets,
              containers: [
                {
                  name: "migrate",
                  image: a.image,
                  command: ["node", "bin/oose.js", "migrate", "up"],
                  // It places nothing, so it runs no zone init: the prism's zone file is left out.
                  env: a.env.filter((e) => e.name !== "OOSE_CONFIG"),
                  securityContext: { runAsNonRoot: true, runAsUser: APP_UID, allowPrivilegeEscalation: false },
                },
              ],
            },
          },
        },
      },
      { parent: this, dependsOn: a.dependsOn },
    );
    this.registerOutputs({});
  }
}
