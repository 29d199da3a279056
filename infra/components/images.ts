import path from "node:path";
import { fileURLToPath } from "node:url";
import * as docker from "@pulumi/docker";
import * as pulumi from "@pulumi/pulumi";
import type { StackConfig } from "../stack.js";

// Every image a host needs, referenced by immutable id so a rebuilt app image
// or a re-tagged upstream image replaces the containers that use it. The app
// image is built on each host, or once and pushed when a registry is set.

export type ImageKind = "app" | "couchdb" | "redis" | "nginx";

export interface ImagesArgs {
  images: StackConfig["images"];
  registryPassword?: pulumi.Output<string>;
  providers: Record<string, docker.Provider>;
  /** The hosts that run each kind of image. */
  needs: Record<ImageKind, string[]>;
  /** Where the image is built when it is pushed to a registry. */
  buildHost: string;
}

const REPO_ROOT = fileURLToPath(new URL("../..", import.meta.url));
const BUILD: docker.types.input.DockerBuild = {
  context: REPO_ROOT,
  dockerfile: path.join(REPO_ROOT, "Dockerfile"),
  builderVersion: "BuilderBuildKit",
};

export class Images extends pulumi.ComponentResource {
  private readonly refs = new Map<string, pulumi.Output<string>>();

  constructor(name: string, args: ImagesArgs, opts?: pulumi.ComponentResourceOptions) {
    super("oose:index:Images", name, {}, opts);
    const provider = (host: string) => {
      const p = args.providers[host];
      if (!p) throw new Error(`no Docker provider for host ${host}`);
      return p;
    };
    const pull = (kind: ImageKind, host: string, ref: pulumi.Input<string>) => {
      const image = new docker.RemoteImage(
        `${name}-${kind}-${host}`,
        { name: ref, keepLocally: true },
        { parent: this, provider: provider(host) },
      );
      this.refs.set(`${kind}/${host}`, image.imageId);
    };
    for (const kind of ["couchdb", "redis", "nginx"] as const) {
      for (const host of new Set(args.needs[kind])) pull(kind, host, args.images[kind]);
    }

    const registry = args.images.registry;
    const appHosts = new Set(args.needs.app);
    if (registry) {
      const pushed = new docker.Image(
        `${name}-app`,
        {
          imageName: `${registry.server}/${args.images.app}`,
          build: BUILD,
          registry: { server: registry.server, username: registry.username, password: args.registryPassword },
        },
        { parent: this, provider: provider(args.buildHost) },
      );
      for (const host of appHosts) pull("app", host, pushed.repoDigest);
    } else {
      for (const host of appHosts) {
        const built = new docker.Image(
          `${name}-app-${host}`,
          { imageName: args.images.app, build: BUILD, skipPush: true },
          { parent: this, provider: provider(host) },
        );
        // For a local build repoDigest is the image id: it changes with every rebuild.
        this.refs.set(`app/${host}`, built.repoDigest);
      }
    }
    this.registerOutputs({ refs: Object.fromEntries(this.refs) });
  }

  /** The image id to run `kind` on `host`. */
  ref(kind: ImageKind, host: string): pulumi.Output<string> {
    const r = this.refs.get(`${kind}/${host}`);
    if (!r) throw new Error(`image ${kind} is not pulled on host ${host}`);
    return r;
  }
}
