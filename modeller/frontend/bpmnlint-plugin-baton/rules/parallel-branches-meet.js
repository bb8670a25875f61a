/**
 * Parallel branches that meet at a step without a parallel gateway: the step runs once per branch.
 *
 * bpmnlint's `fake-join` flags every step with two incoming flows, a loop back and the end of an
 * either/or choice included, which run as drawn here; so Baton switches it off and flags only what
 * goes wrong: two incoming flows that each lead back, along a plain chain of steps (one way in each,
 * no gateway on the way), to the same parallel split — a parallel gateway, or a step with several
 * unconditional outgoing flows. Anything less certain is not reported.
 */
/** A node's sequence flows, read from the flows themselves (a file need not list them on the node); read
 * again on every lint, as the diagram changes between them. */
function flowsOf(node, direction) {
  const end = direction === 'incoming' ? 'targetRef' : 'sourceRef';

  return (node.$parent.flowElements || []).filter((e) => e.$type === 'bpmn:SequenceFlow' && e[end] === node);
}

function isGateway(node) {
  return /Gateway$/.test(node.$type);
}

function isParallelSplit(node) {
  const outgoing = flowsOf(node, 'outgoing');

  if (node.$type === 'bpmn:ParallelGateway') {
    return outgoing.length > 1;
  }
  return !isGateway(node) && outgoing.filter((flow) => !flow.conditionExpression && node.default !== flow).length > 1;
}

/** The parallel split `flow` comes from along a plain chain of steps, or null. */
function splitBehind(flow, step) {
  const seen = new Set();
  let node = flow.sourceRef;

  while (node && node !== step && !seen.has(node)) {
    if (isParallelSplit(node)) {
      return node;
    }
    const incoming = flowsOf(node, 'incoming');

    if (isGateway(node) || incoming.length !== 1) {
      return null;
    }
    seen.add(node);
    node = incoming[0].sourceRef;
  }
  return null;
}

module.exports = function() {
  function check(node, reporter) {
    if (!node.$instanceOf('bpmn:FlowNode') || isGateway(node) || node.$type === 'bpmn:EndEvent' || !node.$parent) {
      return;
    }
    const incoming = flowsOf(node, 'incoming');

    if (incoming.length < 2) {
      return;
    }
    const splits = incoming.map((flow) => splitBehind(flow, node)).filter(Boolean);
    const twice = splits.find((split, index) => splits.indexOf(split) !== index);

    if (twice) {
      reporter.report(node.id, `Parallel branches from ${twice.name || twice.id} meet here without a parallel ` +
        'gateway: this step would run once per branch');
    }
  }

  return { check };
};
