// Starts the console once core.js and every screen script have registered (all are deferred,
// so they ran in document order before this one).
window.Console.start();
