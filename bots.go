package exportkit

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/exportkit/exportkit/internal/errkind"
)

// BotExport is a Kore.ai XO bot export request, exactly as the API sends
// it. The start response names the bot streamId; the status response names
// it botId. Kore has one status per bot: its latest export.
//
// Kore.ai API docs: https://koreai.mintlify.app/ai-for-service/apis/automation/bot-export-status
type BotExport struct {
	ID          string          `json:"_id"` // ber-…
	BotID       string          `json:"botId"`
	StreamID    string          `json:"streamId"`
	CreatedBy   string          `json:"createdBy"`
	ExportType  string          `json:"exportType"`  // latest or published
	RequestType string          `json:"requestType"` // Botexport
	Status      string          `json:"status"`      // pending, success; in-progress and failed inferred
	CreatedOn   *time.Time      `json:"createdOn"`
	V           *FlexInt64      `json:"__v"`
	DownloadURL *string         `json:"downloadURL"`
	FileID      *string         `json:"fileId"`
	Store       *BotExportStore `json:"store"`
	FileSize    *FlexInt64      `json:"fileSize"` // sent as a string: "947"

	bot string // the bot id the caller used
}

// BotExportStore is the storage detail of a finished bot export.
type BotExportStore struct {
	URLParams string `json:"urlParams"`
}

// BotExportRequest starts a bot export, with Kore's field names exactly
// (note the capital I of IncludeDependentTasks). ExportType is "latest"
// (the bot in development) or "published" (default "latest"); everything
// is exported unless ExportOptions or SubTasks narrow it. Nil fields are
// left out of the request, so Kore's defaults apply. Kore answers a start
// with the status "pending" ([StatePending]); the export then goes
// in-progress and ends success or failed.
//
// Kore.ai API docs: https://koreai.mintlify.app/ai-for-service/apis/automation/bot-export
type BotExportRequest struct {
	ExportType            string            `json:"exportType"`
	ExportOptions         *BotExportOptions `json:"exportOptions,omitempty"`
	SubTasks              *BotSubTasks      `json:"subTasks,omitempty"`
	AllTasks              *bool             `json:"allTasks,omitempty"`              // all tasks; ignored by Kore when SubTasks is set
	IncludeDependentTasks *bool             `json:"IncludeDependentTasks,omitempty"` // with SubTasks: the tasks they depend on too
	CustomDashboards      *bool             `json:"customDashboards,omitempty"`      // include custom dashboards
}

// BotExportOptions selects parts of a bot to export: each list names the
// parts wanted, with the values Kore documents (shown beside each field).
//
// Kore.ai API docs: https://koreai.mintlify.app/ai-for-service/apis/automation/bot-export
type BotExportOptions struct {
	Settings []string `json:"settings,omitempty"` // botSettings, botVariables, ivrSettings, genAIandLLMSettings
	Tasks    []string `json:"tasks,omitempty"`    // botTask, knowledgeGraph, smallTalk
	NLPData  []string `json:"nlpData,omitempty"`  // utterances, patterns, traits, rules, concepts, synonyms, standardResponses, nlpSettings
	AgentAI  []string `json:"AgentAI,omitempty"`  // rules, playbooks, widgetSettings, layoutSettings
}

// BotSubTasks exports only the named tasks (a partial export), by task
// name. ExperienceFlows appears only in Kore's newest docs.
//
// Kore.ai API docs: https://koreai.mintlify.app/ai-for-service/apis/automation/bot-export
type BotSubTasks struct {
	Dialogs         []string `json:"dialogs,omitempty"`
	Alerts          []string `json:"alerts,omitempty"`
	Actions         []string `json:"actions,omitempty"`
	ExperienceFlows []string `json:"experienceFlows,omitempty"`
}

var koreStates = stateMap{
	"pending":     StatePending,
	"queued":      StatePending,
	"in-progress": StateRunning,
	"in_progress": StateRunning,
	"inprogress":  StateRunning,
	"running":     StateRunning,
	"processing":  StateRunning,
	"success":     StateReady,
	"completed":   StateReady,
	"failed":      StateFailed,
	"failure":     StateFailed,
	"error":       StateFailed,
}

// Vendor returns [Kore].
func (e *BotExport) Vendor() Vendor { return Kore }

// ExportID returns the export request id (ber-…).
func (e *BotExport) ExportID() string { return e.ID }

// Bot returns the bot id the export belongs to.
func (e *BotExport) Bot() string {
	switch {
	case e.bot != "":
		return e.bot
	case e.BotID != "":
		return e.BotID
	}
	return e.StreamID
}

// State maps pending and success (documented) and in-progress and failed
// (inferred); other strings are StateUnknown.
func (e *BotExport) State() State { return koreStates.of(e.Status) }

// RawStatus returns Kore's status string.
func (e *BotExport) RawStatus() string { return e.Status }

// Err returns an [*ExportError] when the export failed.
func (e *BotExport) Err() error { return exportErr(e, "", "") }

// Size returns fileSize, or -1.
func (e *BotExport) Size() int64 {
	if e.FileSize == nil {
		return -1
	}
	return sizeOf(e.FileSize.Value, e.FileSize.Valid)
}

func (e *BotExport) location() (*fileLocation, error) {
	if err := readyForDownload(e); err != nil {
		return nil, err
	}
	if deref(e.DownloadURL) == "" {
		return nil, errNoDownloadURL
	}
	return &fileLocation{url: *e.DownloadURL, size: e.Size()}, nil
}

// BotsService is Kore.ai XO's bot export API. Every request carries a JWT
// in the auth header and is paced under Kore's limit of 60 requests a
// minute per bot.
//
// Kore.ai API docs: https://koreai.mintlify.app/ai-for-service/apis/automation/bot-export
type BotsService struct {
	c   *Client
	api *vendorClient

	// started maps a bot id to the _id of the export this client last
	// started for it, so that WaitExport can tell ours from another.
	started sync.Map
}

func botPath(op, botID, tail string) (string, error) {
	seg, err := segment("bot id", botID)
	if err != nil {
		return "", err
	}
	return "/api/public/bot/" + seg + "/export" + tail, nil
}

// StartExport starts an export of the bot. The request is sent once.
//
// Kore.ai API: POST /api/public/bot/{BotID}/export
func (s *BotsService) StartExport(ctx context.Context, botID string, r *BotExportRequest) (*BotExport, error) {
	const op = "start export"
	path, err := botPath(op, botID, "")
	if err != nil {
		return nil, opError(Kore, op, botID, err)
	}
	body := BotExportRequest{ExportType: "latest"}
	if r != nil {
		body = *r
	}
	var ok bool
	if body.ExportType, ok = oneOf(body.ExportType, []string{"latest", "published"}); !ok {
		return nil, opError(Kore, op, botID, &inputError{fmt.Errorf("export type %q is not latest or published", excerpt(body.ExportType, 64))})
	} else if body.ExportType == "" {
		body.ExportType = "latest"
	}
	e, _, err := call[BotExport](ctx, s.api, request{op: op, id: botID, method: http.MethodPost,
		path: path, body: body, noReplay: true, paceKey: botID})
	if err != nil {
		return nil, err
	}
	if e.ID == "" {
		return nil, opError(Kore, op, botID, errors.New("response has no export id"))
	}
	e.bot = botID
	s.started.Store(botID, startedExport{id: e.ID, created: e.CreatedOn})
	return e, nil
}

// ExportStatus reads the status of the bot's latest export.
//
// Kore.ai API: GET /api/public/bot/{BotID}/export/status
func (s *BotsService) ExportStatus(ctx context.Context, botID string) (*BotExport, error) {
	e, _, err := s.status(ctx, botID)
	return e, err
}

func (s *BotsService) status(ctx context.Context, botID string) (*BotExport, respInfo, error) {
	const op = "export status"
	path, err := botPath(op, botID, "/status")
	if err != nil {
		return nil, respInfo{}, opError(Kore, op, botID, err)
	}
	e, info, err := call[BotExport](ctx, s.api, request{op: op, id: botID, method: http.MethodGet,
		path: path, paceKey: botID})
	if err != nil {
		return nil, info, err
	}
	e.bot = botID
	return e, info, nil
}

// WaitExport polls the bot's export status until it succeeds or fails.
// Kore has one status per bot, its latest export: when this client started
// an export of the bot with [BotsService.StartExport], the status must
// still be about that export, and a status naming another one (someone
// started a new export meanwhile) ends the wait with that export and an
// error matching [ErrExportSuperseded]. A status still showing an export
// created before this client's (Kore's status can lag a moment behind a
// start) is polled through during the not-found grace ([WithNotFoundGrace]),
// then fails with [ErrNotFound]. Without a StartExport from this client, it
// waits for whatever export is the bot's latest. Download, DownloadFile and
// Open check the started export the same way.
//
// Reads are paced with every other request for the bot (by default under
// Kore's 60 requests a minute per bot), so many waits on one bot share
// its budget.
func (s *BotsService) WaitExport(ctx context.Context, botID string, opts ...WaitOption) (*BotExport, error) {
	return waitAs[*BotExport](ctx, s.c, s.target(botID, s.lastStarted(botID), time.Now()), opts)
}

// startedExport is what a client knows of an export it started: its _id,
// and when Kore says it was created.
type startedExport struct {
	id      string
	created *time.Time
}

// lastStarted returns the export this client last started for the bot; a
// zero value when it started none.
func (s *BotsService) lastStarted(botID string) startedExport {
	v, _ := s.started.Load(botID)
	o, _ := v.(startedExport)
	return o
}

// check compares the bot's status with the export this client started. A
// status about another export created before ours means ours is not
// visible yet (Kore's status may lag a moment behind a start): an error
// matching ErrNotFound and ErrNotReady, which a wait polls through during
// its not-found grace. Any other export replaced ours: ErrExportSuperseded.
func (o startedExport) check(botID string, e *BotExport) error {
	switch {
	case o.id == "" || e.ID == "" || e.ID == o.id:
		return nil
	case o.created != nil && e.CreatedOn != nil && e.CreatedOn.Before(*o.created):
		return opError(Kore, "bot", botID, &errkind.Error{Kinds: []error{ErrNotFound, ErrNotReady},
			Msg: fmt.Sprintf("the status still shows the earlier export %s, not %s", quoteID(e.ID), quoteID(o.id))})
	}
	return supersededError(botID, o.id, e.ID)
}

// Download streams the bot's latest finished export (a zip) to w.
func (s *BotsService) Download(ctx context.Context, botID string, w io.Writer, opts ...DownloadOption) (*DownloadResult, error) {
	return s.c.download(ctx, s.source(botID, s.lastStarted(botID), nil), w, opts)
}

// DownloadFile downloads the bot's latest finished export to path, atomically.
func (s *BotsService) DownloadFile(ctx context.Context, botID, path string, opts ...DownloadOption) (*DownloadResult, error) {
	return s.c.downloadFile(ctx, s.source(botID, s.lastStarted(botID), nil), path, opts)
}

// Open returns a resuming reader of the bot's latest finished export.
func (s *BotsService) Open(ctx context.Context, botID string, opts ...DownloadOption) (io.ReadCloser, error) {
	return s.c.open(ctx, s.source(botID, s.lastStarted(botID), nil), opts)
}

// supersededError reports that the bot's status names another export than
// the one started.
func supersededError(botID, want, got string) error {
	return opError(Kore, "bot", botID, kinded(ErrExportSuperseded, "export %s was replaced by %s", quoteID(want), quoteID(got)))
}

// target polls the bot's status. With a non-empty exportID it checks that
// the status is still about that export.
func (s *BotsService) target(botID string, ours startedExport, started time.Time) *pollTarget {
	st := resumeState{Vendor: Kore, Kind: kindBotExport, ID: ours.id, BotID: botID}
	if ours.created != nil {
		st.Created = ours.created.UnixMilli()
	}
	return &pollTarget{
		vendor: Kore, id: botID, started: started, state: st,
		read: func(ctx context.Context) (Export, time.Duration, error) {
			e, info, err := s.status(ctx, botID)
			if err != nil {
				return nil, info.retryAfter, err
			}
			if err := ours.check(botID, e); err != nil {
				if errors.Is(err, ErrNotFound) {
					return nil, info.retryAfter, err // not ours: not the last export seen
				}
				return e, info.retryAfter, err
			}
			return e, info.retryAfter, nil
		},
	}
}

func (s *BotsService) source(botID string, ours startedExport, known *BotExport) *fileSource {
	src := &fileSource{vendor: Kore, id: botID, key: "kore:" + botID + ":" + ours.id, locate: func(ctx context.Context) (*fileLocation, error) {
		e, _, err := s.status(ctx, botID)
		if err != nil {
			return nil, err
		}
		if err := ours.check(botID, e); err != nil {
			return nil, err
		}
		return e.location()
	}}
	if known != nil {
		src.known, src.knownErr = known.location()
	}
	return src
}
