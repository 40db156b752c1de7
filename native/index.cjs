'use strict';
// The compiled addon; Harmonium's core/compute/native-addon.ts loads it and says why when it cannot.
module.exports = require('./build/Release/harmonium_native.node');
