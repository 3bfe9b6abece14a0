package telemetry

import (
	"strconv"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
)

// AttributeSets keeps the attribute sets of metric measurements, so that a hot
// path recording a measurement does not build (sort and hash) the same set each
// time: metric.WithAttributes did, and cost a few percent of a submission's CPU.
// Metric labels are bounded (see Metrics), and so is the cache. The zero value is
// ready; it is safe for concurrent use.
type AttributeSets struct {
	sets sync.Map // key (the attributes, encoded) -> metric.MeasurementOption
}

// Of returns the measurement option carrying kv.
func (a *AttributeSets) Of(kv ...attribute.KeyValue) metric.MeasurementOption {
	// Each value's type, then its key and value each after its length: no two
	// lists share a key.
	var buf [128]byte
	b := buf[:0]
	for _, x := range kv {
		b = strconv.AppendInt(b, int64(x.Value.Type()), 10)
		for _, s := range [2]string{string(x.Key), x.Value.String()} {
			b = strconv.AppendInt(b, int64(len(s)), 10)
			b = append(b, ':')
			b = append(b, s...)
		}
	}
	key := string(b)
	if o, ok := a.sets.Load(key); ok {
		return o.(metric.MeasurementOption)
	}
	o, _ := a.sets.LoadOrStore(key, metric.WithAttributeSet(attribute.NewSet(kv...)))
	return o.(metric.MeasurementOption)
}
