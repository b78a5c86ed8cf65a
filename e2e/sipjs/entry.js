// The bundle's entry: JsSIP as window.JsSIP (build.sh).
window.JsSIP = require('jssip');
