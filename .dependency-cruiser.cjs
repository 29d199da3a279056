// The shape of the codebase (docs/architecture.md), checked by `npm run lint:deps`
// in `npm test`: core is pure and holds the ports; roles and jobs depend on
// ports, never on adapters; the prism and the store never import each other;
// nothing imports in a circle. Only the entry points (main, cli, compose) wire
// adapters to ports.

const ROLES = "^app/(prism|store)/";

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: "no-circular",
      severity: "error",
      comment: "An import circle: split the shared part out.",
      from: {},
      to: { circular: true },
    },
    {
      name: "core-is-pure",
      severity: "error",
      comment: "app/core holds pure logic and the ports: it imports only core and the error table.",
      from: { path: "^app/core/" },
      to: { path: "^(app|infra|nginx|migrations)/", pathNot: ["^app/core/", "^app/(errors|config|log)\\.ts$"] },
    },
    {
      name: "core-types-only",
      severity: "error",
      comment: "app/core may name the config's and the logger's types, never run their code.",
      from: { path: "^app/core/" },
      to: { path: "^app/(config|log)\\.ts$", dependencyTypesNot: ["type-only"] },
    },
    {
      name: "core-no-io",
      severity: "error",
      comment: "app/core does no I/O: no drivers, servers or file system.",
      from: { path: "^app/core/" },
      to: {
        dependencyTypes: ["npm", "npm-dev", "core"],
        path: "^(fastify|nano|ioredis|undici|pino|fs|net|http|https|child_process|node:(fs|net|http|https|child_process))",
      },
    },
    {
      name: "roles-apart",
      severity: "error",
      comment: "The prism and the store meet only through app/contracts and the clients.",
      from: { path: "^app/prism/" },
      to: { path: "^app/store/" },
    },
    {
      name: "roles-apart-store",
      severity: "error",
      comment: "The prism and the store meet only through app/contracts and the clients.",
      from: { path: "^app/store/" },
      to: { path: "^app/prism/" },
    },
    {
      name: "roles-use-ports",
      severity: "error",
      comment: "A role gets its backends as ports and its jobs from the composition (app/compose).",
      from: { path: ROLES },
      to: { path: "^app/(adapters|jobs|cli|compose)/" },
    },
    {
      name: "jobs-use-ports",
      severity: "error",
      comment: "Jobs get their backends as ports; they know no role, no adapter and no HTTP glue.",
      from: { path: "^app/jobs/" },
      to: { path: "^app/(adapters|http|prism|store|cli|compose)/" },
    },
    {
      name: "adapters-below",
      severity: "error",
      comment: "Adapters implement ports; they know no role, job or entry point.",
      from: { path: "^app/adapters/" },
      to: { path: "^app/(prism|store|jobs|http|cli|compose|client)/" },
    },
    {
      name: "routing-below-roles",
      severity: "error",
      comment:
        "The routing state (pool, store health, copies) serves the prism and the jobs: it knows neither, nor any adapter.",
      from: { path: "^app/routing/" },
      to: { path: "^app/(prism|store|jobs|adapters|http|cli|compose)/" },
    },
    {
      name: "contracts-are-data",
      severity: "error",
      comment: "The wire contracts are schemas: they import only other contracts and core.",
      from: { path: "^app/contracts/" },
      to: { path: "^(app|infra|nginx|migrations)/", pathNot: ["^app/(contracts|core)/"] },
    },
    {
      name: "http-is-glue",
      severity: "error",
      comment: "The fastify glue both roles share knows no role, job, adapter or routing state.",
      from: { path: "^app/http/" },
      to: { path: "^app/(adapters|prism|store|jobs|routing|cli|compose)/" },
    },
    {
      name: "clients-speak-contracts",
      severity: "error",
      comment: "The REST clients know the wire contracts, not the roles behind them.",
      from: { path: "^app/client/" },
      to: { path: "^app/(prism|store|jobs|adapters|cli|compose)/" },
    },
    {
      name: "client-package-apart",
      severity: "error",
      comment: "packages/client ships on its own: of this repository it knows only the wire contracts.",
      from: { path: "^packages/client/" },
      to: { path: "^(app|infra|nginx|migrations|bench|test|scripts)/", pathNot: "^app/contracts/" },
    },
    {
      name: "client-package-types-only",
      severity: "error",
      comment: "packages/client takes the contracts' types, never their code: its build must hold nothing of app/.",
      from: { path: "^packages/client/" },
      to: { path: "^app/contracts/", dependencyTypesNot: ["type-only"] },
    },
  ],
  options: {
    doNotFollow: { path: "node_modules" },
    exclude: { path: "(^|/)node_modules/|^test/fixtures/" },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: "tsconfig.json" },
    enhancedResolveOptions: { extensions: [".ts", ".mjs", ".js", ".json"] },
  },
};
