// k6 load test of the model API (for users who have k6; tests/load/loadtest.py is the
// Python equivalent that runs here). Thresholds are the SLOs: p95 < 500 ms, errors < 0.1 %.
//
//   k6 run -e BASE_URL=http://127.0.0.1:8000 -e VUS=16 -e DURATION=1m tests/load/k6-invocations.js
//   (add -e TOKEN=... when the API requires a bearer token)
import http from 'k6/http';
import { check } from 'k6';
import { SharedArray } from 'k6/data';

const BASE_URL = __ENV.BASE_URL || 'http://127.0.0.1:8000';
const TOKEN = __ENV.TOKEN || '';

// One-row dataframe_split bodies built from the shared sample rows.
const bodies = new SharedArray('bodies', function () {
  const sample = JSON.parse(open('../data/load/breast_cancer_rows.json'));
  return sample.data.map((row) =>
    JSON.stringify({ dataframe_split: { columns: sample.columns, data: [row] } }),
  );
});

export const options = {
  scenarios: {
    invocations: {
      executor: 'constant-vus',
      vus: Number(__ENV.VUS || 16),
      duration: __ENV.DURATION || '1m',
    },
  },
  thresholds: {
    http_req_duration: ['p(95)<500'],
    http_req_failed: ['rate<0.001'],
  },
};

export default function () {
  const headers = { 'Content-Type': 'application/json' };
  if (TOKEN) {
    headers.Authorization = `Bearer ${TOKEN}`;
  }
  const body = bodies[(__VU * 7919 + __ITER) % bodies.length];
  const response = http.post(`${BASE_URL}/invocations`, body, { headers: headers });
  check(response, {
    'status is 200': (r) => r.status === 200,
    'one prediction': (r) => r.status === 200 && r.json('predictions').length === 1,
  });
}
