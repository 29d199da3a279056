import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { StatefulSet } from "kubernetes-models/apps/v1/StatefulSet";
import { Job } from "kubernetes-models/batch/v1/Job";
import { Ingress } from "kubernetes-models/networking.k8s.io/v1/Ingress";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ClusterRoleBinding } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";

// Kubernetes objects checked against the API's OpenAPI schemas (Kubernetes
// 1.27, as compiled to ajv validators by kubernetes-models). A kind without a
// schema here is a failure, so a new kind cannot slip through unchecked.

// biome-ignore lint/suspicious/noExplicitAny: each model takes its own object type.
type Model = new (data: any) => { validate(): void };
const MODELS: Record<string, Model> = {
  "apps/v1/Deployment": Deployment,
  "apps/v1/StatefulSet": StatefulSet,
  "batch/v1/Job": Job,
  "networking.k8s.io/v1/Ingress": Ingress,
  "policy/v1/PodDisruptionBudget": PodDisruptionBudget,
  "rbac.authorization.k8s.io/v1/ClusterRole": ClusterRole,
  "rbac.authorization.k8s.io/v1/ClusterRoleBinding": ClusterRoleBinding,
  "v1/ConfigMap": ConfigMap,
  "v1/Namespace": Namespace,
  "v1/Secret": Secret,
  "v1/Service": Service,
  "v1/ServiceAccount": ServiceAccount,
};

/** The schema's complaints about one object, empty when it is valid. */
export function schemaErrors(doc: Record<string, unknown>): string[] {
  const key = `${doc.apiVersion}/${doc.kind}`;
  const model = MODELS[key];
  if (!model) return [`${key}: no schema to check it against`];
  try {
    new model(doc).validate();
    return [];
  } catch (e) {
    return [`${key}: ${(e as Error).message}`];
  }
}
