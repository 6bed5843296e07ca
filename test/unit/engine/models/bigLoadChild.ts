/**
 * Child process of bigLoad.test.ts: loads the model folder named by argv[2] (written there by
 * writeBigModelFolder, whose description is the JSON file argv[3]) and prints one JSON line with the resident
 * memory before the load, the peak after it, and the sampled windows that did not match. A fresh process, so
 * the peak belongs to this load alone.
 */
import * as fs from 'node:fs';
import { loadHfModel } from '../../../../src/engine/models/hfMapping';
import { BigModelFile, sampleMismatches } from './bigModelFile';

const big = JSON.parse(fs.readFileSync(process.argv[3], 'utf8')) as BigModelFile;
const rssBefore = process.memoryUsage().rss;
const loaded = loadHfModel(process.argv[2]);
// resourceUsage().maxRSS is the peak resident set of this process so far, in KiB.
const peakRss = process.resourceUsage().maxRSS * 1024;
const mismatches = sampleMismatches(big, loaded.weights);
process.stdout.write(JSON.stringify({ rssBefore, peakRss, mismatches, params: [...loaded.weights.values()].reduce((a, t) => a + t.data.length, 0) }) + '\n');
