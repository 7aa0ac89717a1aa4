// A raw HashiCorp yamux peer over plain TCP, for interop tests and benchmarks.
//
//	peer server [-window N]    listen on 127.0.0.1:0, print {"port": P}, echo every stream
//	                           until EOF, then close it
//	peer sink [-window N]      like server, but each stream carries an 8-byte big-endian
//	                           length L and L bytes; reply with the count (8 bytes), close
//	peer client -port P [-streams N] [-bytes B] [-write W] [-window N] [-oneway]
//	                           open N streams; echo mode: send B bytes in W-byte writes
//	                           while reading the echo back (bytes are counted, EOF is not
//	                           trusted), then close. oneway mode: send an 8-byte length,
//	                           B bytes, read the 8-byte count reply, then close.
//	                           Prints {"streams","bytes","seconds","mbps"} as one JSON line.
//
// Servers exit when stdin reaches EOF.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net"
	"os"
	"sync"
	"time"

	"github.com/hashicorp/yamux"
)

func newConfig(window uint) *yamux.Config {
	cfg := yamux.DefaultConfig()
	cfg.LogOutput = ioutil.Discard
	cfg.MaxStreamWindowSize = uint32(window)
	return cfg
}

func fail(err error) {
	out, _ := json.Marshal(map[string]string{"error": err.Error()})
	fmt.Println(string(out))
	os.Exit(1)
}

func echo(st *yamux.Stream) {
	io.Copy(st, st)
	st.Close()
}

func sink(st *yamux.Stream) {
	defer st.Close()
	var header [8]byte
	if _, err := io.ReadFull(st, header[:]); err != nil {
		return
	}
	n, _ := io.CopyN(ioutil.Discard, st, int64(binary.BigEndian.Uint64(header[:])))
	binary.BigEndian.PutUint64(header[:], uint64(n))
	st.Write(header[:])
}

func serve(handler func(*yamux.Stream), cfg *yamux.Config) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fail(err)
	}
	out, _ := json.Marshal(map[string]int{"port": ln.Addr().(*net.TCPAddr).Port})
	fmt.Println(string(out))
	go func() {
		io.Copy(ioutil.Discard, os.Stdin)
		os.Exit(0)
	}()
	for {
		conn, err := ln.Accept()
		if err != nil {
			fail(err)
		}
		go func() {
			sess, err := yamux.Server(conn, cfg)
			if err != nil {
				return
			}
			for {
				st, err := sess.AcceptStream()
				if err != nil {
					return
				}
				go handler(st)
			}
		}()
	}
}

func pattern(size int, seed int) []byte {
	buf := make([]byte, size)
	for i := range buf {
		buf[i] = byte((i + seed) % 251)
	}
	return buf
}

func writeAll(st *yamux.Stream, total int64, write int, seed int) error {
	chunk := pattern(write+251, seed)
	var sent int64
	for sent < total {
		n := int64(write)
		if total-sent < n {
			n = total - sent
		}
		off := int(sent % 251)
		if _, err := st.Write(chunk[off : off+int(n)]); err != nil {
			return err
		}
		sent += n
	}
	return nil
}

func readCount(st *yamux.Stream, total int64, seed int) error {
	buf := make([]byte, 256*1024)
	var got int64
	for got < total {
		n, err := st.Read(buf)
		for i := 0; i < n; i++ {
			if buf[i] != byte((got+int64(i)+int64(seed))%251) {
				return fmt.Errorf("corrupt echo at offset %d", got+int64(i))
			}
		}
		got += int64(n)
		if err != nil && got < total {
			return fmt.Errorf("read %d of %d bytes: %v", got, total, err)
		}
	}
	return nil
}

func runStream(sess *yamux.Session, total int64, write int, seed int, oneway bool) error {
	st, err := sess.OpenStream()
	if err != nil {
		return err
	}
	defer st.Close()
	if oneway {
		var header [8]byte
		binary.BigEndian.PutUint64(header[:], uint64(total))
		if _, err := st.Write(header[:]); err != nil {
			return err
		}
		if err := writeAll(st, total, write, seed); err != nil {
			return err
		}
		if _, err := io.ReadFull(st, header[:]); err != nil {
			return err
		}
		if got := binary.BigEndian.Uint64(header[:]); got != uint64(total) {
			return fmt.Errorf("peer counted %d of %d bytes", got, total)
		}
		return nil
	}
	errs := make(chan error, 1)
	go func() { errs <- writeAll(st, total, write, seed) }()
	if err := readCount(st, total, seed); err != nil {
		return err
	}
	return <-errs
}

func client(port int, streams int, total int64, write int, oneway bool, cfg *yamux.Config) {
	conn, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		fail(err)
	}
	sess, err := yamux.Client(conn, cfg)
	if err != nil {
		fail(err)
	}
	start := time.Now()
	var wg sync.WaitGroup
	errs := make(chan error, streams)
	for i := 0; i < streams; i++ {
		wg.Add(1)
		go func(seed int) {
			defer wg.Done()
			if err := runStream(sess, total, write, seed, oneway); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	elapsed := time.Since(start).Seconds()
	close(errs)
	if err := <-errs; err != nil {
		fail(err)
	}
	sess.Close()
	moved := total * int64(streams)
	out, _ := json.Marshal(map[string]interface{}{
		"streams": streams, "bytes": moved, "seconds": elapsed,
		"mbps": float64(moved) / elapsed / 1e6,
	})
	fmt.Println(string(out))
}

func main() {
	if len(os.Args) < 2 {
		fail(errors.New("usage: peer server|sink|client [flags]"))
	}
	mode := os.Args[1]
	flags := flag.NewFlagSet(mode, flag.ExitOnError)
	port := flags.Int("port", 0, "client: the port to dial")
	streams := flags.Int("streams", 1, "client: concurrent streams")
	total := flags.Int64("bytes", 1<<20, "client: bytes per stream")
	write := flags.Int("write", 65536, "client: bytes per Write call")
	window := flags.Uint("window", 256*1024, "MaxStreamWindowSize")
	oneway := flags.Bool("oneway", false, "client: length-prefixed one-way send")
	flags.Parse(os.Args[2:])
	cfg := newConfig(*window)
	switch mode {
	case "server":
		serve(echo, cfg)
	case "sink":
		serve(sink, cfg)
	case "client":
		client(*port, *streams, *total, *write, *oneway, cfg)
	default:
		fail(fmt.Errorf("unknown mode %q", mode))
	}
}
