// The operator commands: inventory scan/verify, clonetool, purchases, status.
import "./inventory.js";
import "./clonetool.js";
import "./purchases.js";
import "./status.js";
