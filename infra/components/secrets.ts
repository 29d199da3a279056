import * as pulumi from "@pulumi/pulumi";
import * as random from "@pulumi/random";
import type { Credentials } from "../../app/config.js";
import type { Secrets } from "../../app/topology/env.js";
import type { StackConfig } from "../stack.js";

// Every credential of the cluster: from the stack's secret config when set,
// otherwise generated once and kept in state. All of them are secret Outputs;
// nothing here is ever resolved outside an apply.

type Secret = pulumi.Output<string>;

export interface SecretCredentials {
  username: string;
  password: Secret;
}

export interface ClusterSecretsArgs {
  auth: StackConfig["auth"];
  given: StackConfig["secrets"];
}

export class ClusterSecrets extends pulumi.ComponentResource {
  readonly prismAuth: SecretCredentials;
  readonly storeAuth: SecretCredentials;
  readonly couchdb: SecretCredentials;
  readonly signingKey: Secret;
  readonly redisPassword: Secret;
  /** The Sentinels' requirepass, shared by all of them (they log in to each other with it). */
  readonly sentinelPassword: Secret;
  /** Shared by CouchDB nodes: Erlang cookie and cookie-auth secret must match cluster-wide. */
  readonly erlangCookie: Secret;
  readonly couchSecret: Secret;
  /** So is the server uuid, which is no credential. */
  readonly couchUuid: pulumi.Output<string>;
  readonly tls?: { cert: Secret; key: Secret };
  readonly registryPassword?: Secret;

  constructor(name: string, args: ClusterSecretsArgs, opts?: pulumi.ComponentResourceOptions) {
    super("oose:index:Secrets", name, {}, opts);
    // Alphanumeric only: these end up in URLs, Redis and nginx configs and JSON bodies.
    const generate = (what: string, length = 32): Secret =>
      pulumi.secret(new random.RandomPassword(`${name}-${what}`, { length, special: false }, { parent: this }).result);
    const given = args.given;
    this.prismAuth = { username: args.auth.prism, password: given.prismPassword ?? generate("prism-password") };
    this.storeAuth = { username: args.auth.store, password: given.storePassword ?? generate("store-password") };
    this.couchdb = { username: args.auth.couchdb, password: given.couchdbPassword ?? generate("couchdb-password") };
    this.signingKey = given.signingKey ?? generate("signing-key", 48);
    this.redisPassword = given.redisPassword ?? generate("redis-password");
    this.sentinelPassword = generate("sentinel-password");
    this.erlangCookie = generate("erlang-cookie", 48);
    this.couchSecret = generate("couchdb-secret");
    this.couchUuid = new random.RandomId(`${name}-couchdb-uuid`, { byteLength: 16 }, { parent: this }).hex;
    if (given.tlsCert && given.tlsKey) this.tls = { cert: given.tlsCert, key: given.tlsKey };
    this.registryPassword = given.registryPassword;
    this.registerOutputs({});
  }

  /** The app's view (env.ts Secrets), resolved inside one secret Output. */
  appSecrets(): pulumi.Output<Secrets> {
    const creds = (c: SecretCredentials) =>
      c.password.apply((password): Credentials => ({ username: c.username, password }));
    return pulumi
      .all([
        creds(this.prismAuth),
        creds(this.storeAuth),
        creds(this.couchdb),
        this.signingKey,
        this.redisPassword,
        this.sentinelPassword,
      ])
      .apply(([prismAuth, storeAuth, couchdb, signingKey, redisPassword, sentinelPassword]) => ({
        prismAuth,
        storeAuth,
        couchdb,
        signingKey,
        redisPassword,
        sentinelPassword,
      }));
  }
}
