// The operator commands: inventory scan/verify, clonetool, purchases, status, backup and restore.
import "./inventory.js";
import "./clonetool.js";
import "./purchases.js";
import "./status.js";
import "./backup.js";
import "./restore.js";
